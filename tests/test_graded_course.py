"""The graded course through stock nbgrader: a sample class in a scratch copy of the course.

The class of ``tests/gradedclass.py``, graded once per session by stock autograde, then
generate_feedback and export (the ``stock_graded`` fixture); the tests read its gradebook,
autograded notebooks and feedback.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import gradedclass
import numpy as np
import pytest

from rnncourse import ASSIGNMENT, FUNCTIONS
from rnncourse.authoring import demo, sampleclass
from rnncourse.client import testcases
from rnncourse.content import mistakes, refdata

pytestmark = [pytest.mark.slow]

NBGRADER = str(Path(sys.executable).with_name("nbgrader"))


def start(root, *args):
    """Start ``nbgrader ARGS`` in ``root`` (with its own gradebook); :func:`finish` waits for it."""
    env = dict(os.environ, RNNCOURSE_DB_URL=f"sqlite:///{root / 'gradebook.db'}")
    return subprocess.Popen([NBGRADER, *args], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)


def finish(proc, check=True):
    stdout, stderr = proc.communicate()
    if check and proc.returncode != 0:
        raise AssertionError(f"nbgrader {proc.args[1:]} failed:\n{stdout}\n{stderr}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


@pytest.fixture(scope="module")
def course(stock_graded):
    root = stock_graded.root
    students = gradedclass.CLASS
    scores = demo.scores(f"sqlite:///{root / 'gradebook.db'}", list(students))
    return {"root": root, "students": students, "scores": scores}


def test_correct_solution_earns_full_marks(course):
    assert course["scores"]["correct"] == {fn: float(testcases.POINTS[fn]) for fn in FUNCTIONS}


def test_blank_notebook_earns_zero(course):
    assert sum(course["scores"]["blank"].values()) == 0


def test_a_cell_that_never_returns_costs_only_its_function(course):
    got = course["scores"]["hangs"]
    assert got["rnn_cell_backward"] == 0
    assert all(got[fn] == testcases.POINTS[fn] for fn in FUNCTIONS if fn != "rnn_cell_backward")


def test_each_mistake_loses_points_in_its_own_function_only_with_its_own_message(course):
    for student, errors in sampleclass.mixed_students().items():
        got = course["scores"][student]
        reports = demo.hidden_reports(student, course["root"])
        wrong = dict(errors)
        for fn in FUNCTIONS:
            if fn not in wrong:
                assert got[fn] == testcases.POINTS[fn], (student, fn, got[fn])
                continue
            m = next(m for m in mistakes.for_function(fn) if m.label == wrong[fn])
            assert got[fn] < testcases.POINTS[fn], (student, fn)
            assert m.message in reports[fn], (student, fn, reports[fn])
            others = [o.message for o in mistakes.for_function(fn)
                      if o.label != m.label and o.message != m.message]
            assert not any(o in reports[fn] for o in others), (student, fn, reports[fn])


def test_no_graded_cell_wrote_to_stderr_for_honest_work(course):
    import nbformat

    path = course["root"] / "autograded" / "correct" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            assert not any(o.get("name") == "stderr" for o in cell.get("outputs", [])), cell.source


def test_validate_passes_on_the_correct_solution_and_the_master(course, root):
    submitted = course["root"] / "submitted"
    # Three independent validations, run side by side (each mostly waits on its own kernel).
    ok = start(course["root"], "validate", str(submitted / "correct" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"))
    master = start(root, "validate", str(root / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"))
    blank = start(course["root"], "validate", str(submitted / "blank" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"))
    ok, master, blank = finish(ok), finish(master), finish(blank, check=False)
    assert "Success!" in ok.stdout, ok.stdout
    assert "Success!" in master.stdout, master.stdout
    assert "Success!" not in blank.stdout


def test_feedback_reveals_no_reference_values(course):
    html_files = list((course["root"] / "feedback").rglob("*.html"))
    assert len(html_files) == len(course["students"])
    expected = set()
    for fn in FUNCTIONS:
        for case in refdata.load()[fn]:
            for arr in case["expected"].values():
                expected.update(f"{v:.8f}" for v in np.ravel(arr)[:2000] if abs(v) > 1e-3)
    for path in html_files:
        text = path.read_text()
        found = set(re.findall(r"-?\d+\.\d{8}", text)) & expected
        assert not found, (path.name, sorted(found)[:5])
        assert "BEGIN SOLUTION" not in text


def test_grades_export(course):
    rows = (course["root"] / "grades.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + len(course["students"])
