"""Validate as a student runs it: the released files only, no course configuration, empty HOME.

Stock ``nbgrader validate`` (and the code path of JupyterLab's Validate button)
must name every function that is unfinished or fails its visible tests, and
pass a correct notebook without a warning.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from rnncourse import ASSIGNMENT, stocknbgrader
from rnncourse.authoring import sampleclass

pytestmark = [pytest.mark.slow]

NBGRADER = str(Path(sys.executable).with_name("nbgrader"))
UNFINISHED = ("rnn_backward", "lstm_cell_forward", "lstm_forward", "lstm_cell_backward",
              "lstm_backward")
# What nbgrader and the kernel say in any student's folder (docs/assignment.md: "Warnings"), not the course.
NBGRADER_OWN_WARNINGS = ("No nbgrader_config.py file found", "Kernel is running over TCP")
BUTTON = """
import json, sys
from nbgrader.server_extensions.validate_assignment.handlers import ValidateAssignmentHandler
from nbgrader.validator import Validator
config = ValidateAssignmentHandler.load_config(None)  # what the button's handler loads
print(json.dumps(Validator(config=config).validate(sys.argv[1])))
"""


def student_env(home):
    """A student's environment: nothing of the instructor's configuration."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("JUPYTER", "NBGRADER", "RNNCOURSE", "IPYTHON"))}
    return stocknbgrader.venv_env(env, HOME=str(home))


def student_folder(tmp, root, sources):
    """``tmp/home/rnn_lstm``: the released files, the notebook with ``sources`` filled in."""
    home = tmp / "home"
    folder = home / ASSIGNMENT
    shutil.copytree(root / "release" / ASSIGNMENT, folder)
    nb = nbformat.read(str(folder / f"{ASSIGNMENT}.ipynb"), 4)
    nbformat.write(sampleclass.fill(nb, sources), str(folder / f"{ASSIGNMENT}.ipynb"))
    assert not (folder / "nbgrader_config.py").exists()
    return home, folder


def validate(home, folder):
    proc = subprocess.run([NBGRADER, "validate", f"{ASSIGNMENT}.ipynb"], cwd=folder,
                          env=student_env(home), capture_output=True, text=True, timeout=300)
    return proc.stdout, proc.stderr


def button(home, folder):
    proc = subprocess.run([sys.executable, "-c", BUTTON, str(folder / f"{ASSIGNMENT}.ipynb")],
                          cwd=folder, env=student_env(home), capture_output=True, text=True,
                          timeout=300, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


@pytest.fixture(scope="module")
def half_finished(tmp_path_factory, root):
    """Five functions unfinished, rnn_cell_forward wrong (bias forgotten), two right."""
    wrong = sampleclass.student_sources([("rnn_cell_forward", "bias_forgotten")])
    sources = {fn: wrong[fn] for fn in ("rnn_cell_forward", "rnn_forward", "rnn_cell_backward")}
    return student_folder(tmp_path_factory.mktemp("half"), root, sources)


@pytest.fixture(scope="module")
def finished(tmp_path_factory, root):
    return student_folder(tmp_path_factory.mktemp("done"), root, sampleclass.student_sources())


def failed_functions(text):
    """The function each "The following cell failed" block of the output names first."""
    named = []
    for block in text.split("The following cell failed:")[1:]:
        error = block.split("The error was:", 1)[1]
        named.append(re.search(r"SelfCheckFailed: (\w+)", error).group(1))
    return named


def test_validate_names_every_unfinished_or_failing_function(half_finished):
    out, err = validate(*half_finished)
    assert "Success" not in out
    failed = failed_functions(out)
    assert sorted(failed) == sorted(("rnn_cell_forward", "rnn_forward", "rnn_cell_backward")
                                    + UNFINISHED), out
    flat = " ".join(out.split())  # nbgrader prints the messages wrapped
    for fn in UNFINISHED:
        assert f"{fn} is not finished: it raises NotImplementedError." in flat
    assert "rnn_cell_forward fails its visible tests" in flat
    # rnn_forward is right; its visible tests fail through the wrong cell, and say so
    assert "call your rnn_cell_forward, which fails its own visible tests" in flat
    assert "Traceback" not in out and "rnn_utils.py" not in out and "cannot be converted" not in err


def test_validate_passes_a_correct_notebook_without_warnings(finished):
    out, err = validate(*finished)
    assert "Success! Your notebook passes all the tests." in out, out
    assert "cannot be converted" not in err, err
    assert not [line for line in err.splitlines() if "WARNING" in line and not
                any(known in line for known in NBGRADER_OWN_WARNINGS)], err


def test_validate_button_reports_the_same(half_finished, finished):
    result, _ = button(*half_finished)
    errors = " ".join(" ".join(f["error"] for f in result["failed"]).split())
    for fn in UNFINISHED:
        assert f"{fn} is not finished" in errors
    assert "rnn_cell_forward fails its visible tests" in errors
    result, err = button(*finished)
    assert result == {}, result
    assert "cannot be converted" not in err
