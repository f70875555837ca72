"""The import rules of ``.importlinter`` (checked by ``make lint``) hold, and each fails when broken.

Each case copies the package into a scratch directory, adds one import that breaks one rule, and
runs ``lint-imports`` on the copy: the rule must be reported broken, and the others kept.
"""

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

# (contracts the import breaks, module that gets it, the import). The hidden cell's module
# imports the client and indirect imports count, so what breaks the client breaks it too.
CLIENT = ("confined-client", "hidden-cell")
VIOLATIONS = [
    (CLIENT, "client/wire.py", "from rnncourse.content import refdata"),
    # The client's old way out: the hidden cell's module, whose local mode reaches the reference.
    (("confined-client",), "client/recheck_driver.py", "from rnncourse import grading"),
    (("hidden-cell",), "grading.py", "from rnncourse.selfstudy import seqlab"),
    # Local mode's one import is the exception, not the rest of the trusted side.
    (("hidden-cell",), "grading.py", "from rnncourse.content import refdata"),
    (("hidden-cell",), "grading.py", "from rnncourse.verdicts import judge"),
    (("sandbox-knows-no-course",), "sandbox/confine.py", "from rnncourse import paths"),
    # What the sandbox copies in and protects is handed in, never looked up.
    (("sandbox-knows-no-course",), "sandbox/__init__.py", "from rnncourse import confinement"),
    (("verdicts-not-run",), "verdicts/judge.py", "from rnncourse.run import runner"),
]


def _contract_names():
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    prefix = "importlinter:contract:"
    return {s[len(prefix):]: " ".join(config[s]["name"].split())
            for s in config.sections() if s.startswith(prefix)}


def _lint(tmp_path, module=None, line=None):
    shutil.copytree(ROOT / "rnncourse", tmp_path / "rnncourse",
                    ignore=shutil.ignore_patterns("__pycache__", "data"))
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    if module:
        path = tmp_path / "rnncourse" / module
        path.write_text(path.read_text() + f"\n\ndef _broken():\n    {line}\n")
    proc = subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=tmp_path, capture_output=True, text=True,
                          env={"PATH": str(LINT_IMPORTS.parent), "PYTHONPATH": str(tmp_path)})
    return proc.returncode, " ".join(proc.stdout.split())


def test_every_rule_has_a_violation_below():
    assert set(_contract_names()) == {c for contracts, _, _ in VIOLATIONS for c in contracts}


def test_the_package_keeps_every_rule(tmp_path):
    code, out = _lint(tmp_path)
    assert code == 0, out
    assert f"Contracts: {len(_contract_names())} kept, 0 broken" in out


@pytest.mark.parametrize("contracts, module, line", VIOLATIONS,
                         ids=[f"{c[0]}:{m}:{line.split()[-1]}" for c, m, line in VIOLATIONS])
def test_a_broken_rule_fails_the_lint(tmp_path, contracts, module, line):
    code, out = _lint(tmp_path, module, line)
    assert code != 0, out
    names = _contract_names()
    assert f"Contracts: {len(names) - len(contracts)} kept, {len(contracts)} broken" in out, out
    broken = out.split("Broken contracts", 1)[1]
    assert all(names[c] in broken for c in contracts), out
