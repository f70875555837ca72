"""``make setup`` works on every Python the README admits, and says so clearly on any other.

The README promises that Python 3.11 and ``make`` suffice, so every pin must
install on the oldest 3.11 (Debian 12's own ``python3`` is 3.11.2): each
pinned distribution installed here must declare a ``Requires-Python`` that
admits 3.11.0. (``.ci/run`` also runs ``make setup`` with the system
interpreter, when there is one, into a scratch venv: ``make setup-test``.)
"""

import importlib.metadata
import re
import subprocess
import tomllib
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
OLDEST = Version("3.11.0")
"""The oldest Python the README admits ("Python 3.11")."""


def _pins():
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)$", line.strip())
        if m:
            pins[m.group(1)] = m.group(2)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for spec in project["optional-dependencies"]["oracle"]:
        name, _, version = spec.partition("==")
        pins[name] = version
    return pins


def test_every_pin_admits_the_oldest_python_the_readme_admits():
    pins = _pins()
    assert len(pins) > 100
    wrong = []
    for name, version in pins.items():
        dist = importlib.metadata.distribution(name)
        assert Version(dist.version).public == Version(version).public, \
            f"{name}: {dist.version} installed, {version} pinned: run `make setup`"
        needs = dist.metadata.get("Requires-Python")
        if needs and OLDEST not in SpecifierSet(needs):
            wrong.append(f"{name}=={version} needs Python {needs}")
    assert wrong == [], "pins that do not install on Python 3.11.0 (pick an older release):\n" \
        + "\n".join(wrong)


def test_project_requires_the_same_python():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert OLDEST in SpecifierSet(project["requires-python"])
    assert Version("3.10.12") not in SpecifierSet(project["requires-python"])


def test_make_setup_refuses_an_older_python_clearly(tmp_path):
    old = tmp_path / "python3.10"
    old.write_text('#!/bin/sh\n[ "$1" = --version ] && { echo "Python 3.10.12"; exit 0; }\n'
                   "exit 1\n")
    old.chmod(0o755)
    for python, says in ((old, "is Python 3.10.12"), (tmp_path / "nowhere" / "python3", "is not found")):
        proc = subprocess.run(["make", "setup", f"PYTHON={python}", f"VENV={tmp_path / 'venv'}",
                               f"STAMP={tmp_path / 'stamp'}"], cwd=ROOT, capture_output=True, text=True,
                              timeout=60)
        assert proc.returncode != 0
        assert f"make setup needs Python 3.11 or later, and '{python}' {says}." in proc.stderr, proc.stderr
        assert "make setup PYTHON=/path/to/python3.11" in proc.stderr
        assert not (tmp_path / "venv").exists()
