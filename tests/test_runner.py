"""``make grade`` against stock ``nbgrader autograde`` on a mixed class, and broken submissions.

A mixed class (correct, typical mistakes, blank, a cell that never returns) of
the shared sample class (``tests/gradedclass.py``): stock nbgrader's grading of it
is the session's ``stock_graded``; the runner grades a copy of these students
with broken submissions beside them (malformed JSON, non-UTF-8 bytes, a renamed
notebook, a kernel that dies), which must each get their own clear error without
stopping the others.
"""

import csv
import json
import sqlite3
import stat

import gradedclass
import pytest

from rnncourse import ASSIGNMENT, FUNCTIONS
from rnncourse.authoring import sampleclass
from rnncourse.client import testcases
from rnncourse.run import gradebook

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

CLASS = {s: gradedclass.CLASS[s] for s in ("correct", "bias_forgotten", "two_mistakes", "blank", "hangs")}
grade_cli = gradedclass.grade_cli


def statuses(root):
    con = sqlite3.connect(f"file:{root / 'gradebook.db'}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT student, state, error, flags, fingerprint, graded_at "
                           "FROM rnncourse_grading").fetchall()
    finally:
        con.close()
    return {r[0]: {"state": r[1], "error": r[2], "flags": json.loads(r[3] or "[]"),
                   "fingerprint": r[4], "graded_at": r[5]} for r in rows}


def write_broken(submitted):
    """Broken submissions next to the mixed class: ``{student: words its error must contain}``."""
    release_nb = (submitted.parent / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text()
    broken = {}

    def folder(student):
        d = submitted / student / ASSIGNMENT
        d.mkdir(parents=True)
        return d

    (folder("malformed") / f"{ASSIGNMENT}.ipynb").write_text(release_nb[: len(release_nb) // 2])
    broken["malformed"] = "not valid JSON"
    (folder("latin1") / f"{ASSIGNMENT}.ipynb").write_bytes(
        release_nb.replace("Parameters", "Paramètres").encode("latin-1", "replace"))
    broken["latin1"] = "not UTF-8"
    (folder("renamed") / f"{ASSIGNMENT} (1).ipynb").write_text(release_nb)
    broken["renamed"] = "must keep its name"
    sources = sampleclass.student_sources()
    sources["rnn_cell_backward"] = "import os\nos._exit(3)\n" + sources["rnn_cell_backward"]
    import nbformat

    nb = sampleclass.fill(json.loads(release_nb), sources)
    nbformat.write(nb, str(folder("crashes") / f"{ASSIGNMENT}.ipynb"))
    broken["crashes"] = "kernel died"
    return broken


@pytest.fixture(scope="module")
def stock(stock_graded):
    return stock_graded.root


@pytest.fixture(scope="module")
def ours(graded_seed, tmp_path_factory):
    root = gradedclass.clone(graded_seed, tmp_path_factory.mktemp("runner") / "ours", students=CLASS)
    broken = write_broken(root / "submitted")
    proc = grade_cli(root, "--workers", "2")
    return {"root": root, "proc": proc, "broken": broken}


def test_scores_identical_to_stock_nbgrader_cell_by_cell(stock, ours):
    assert ours["proc"].returncode == 0, ours["proc"].stdout + ours["proc"].stderr[-3000:]
    a = gradebook.grades(f"sqlite:///{stock / 'gradebook.db'}", students=set(CLASS))
    b = gradebook.grades(f"sqlite:///{ours['root'] / 'gradebook.db'}", students=set(CLASS))
    assert set(a) == set(CLASS)
    assert a == b
    # The class is mixed: full marks, partial marks and zeros all occur.
    totals = {s: sum(v.values()) for s, v in b.items()}
    assert totals["correct"] == sum(testcases.POINTS.values())
    assert totals["blank"] == 0
    assert 0 < totals["bias_forgotten"] < totals["correct"]
    assert b["bias_forgotten"]["rnn_cell_forward_hidden"] < testcases.POINTS["rnn_cell_forward"]
    assert b["two_mistakes"]["rnn_forward_hidden"] == testcases.POINTS["rnn_forward"]


def test_broken_submissions_get_their_own_error_and_the_class_goes_on(ours):
    out = ours["proc"].stdout
    status = statuses(ours["root"])
    for student, words in ours["broken"].items():
        assert status[student]["state"] == "failed", status[student]
        assert words in status[student]["error"], status[student]
        assert f"FAILED  {student}: " in out
    for student in CLASS:
        assert status[student]["state"] == "graded", (student, status[student])
    grades = gradebook.grades(f"sqlite:///{ours['root'] / 'gradebook.db'}")
    for student in ("malformed", "latin1", "renamed"):
        assert set(grades[student].values()) == {0.0}
    crashed = grades["crashes"]
    assert crashed["rnn_cell_forward_hidden"] == testcases.POINTS["rnn_cell_forward"]
    # Never ran in the notebook (the kernel had died): scored by the re-check alone, so the
    # honest function after the crash still earns its points.
    assert crashed["lstm_backward_hidden"] == testcases.POINTS["lstm_backward"]
    assert "rnn_cell_backward" in status["crashes"]["error"]


def test_autograded_folders_like_nbgrader(stock, ours):
    for student in CLASS:
        mine = ours["root"] / "autograded" / student / ASSIGNMENT
        theirs = stock / "autograded" / student / ASSIGNMENT
        assert sorted(p.name for p in mine.iterdir()) == sorted(p.name for p in theirs.iterdir())
        nb = mine / f"{ASSIGNMENT}.ipynb"
        assert stat.S_IMODE(nb.stat().st_mode) == 0o444
        import nbformat

        executed = nbformat.read(str(nb), as_version=4)
        hidden = [c for c in executed.cells
                  if c.metadata.get("nbgrader", {}).get("grade_id", "").endswith("_hidden")]
        assert len(hidden) == len(FUNCTIONS) and all(c.get("execution_count") for c in hidden)
    assert not (ours["root"] / "autograded" / "malformed" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").exists()


def test_grades_csv_exported(ours):
    with open(ours["root"] / "grades.csv", newline="") as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f)}
    assert set(CLASS) | set(ours["broken"]) <= set(rows)
    assert float(rows["correct"]["score"]) == sum(testcases.POINTS.values())


def test_rerun_skips_everything_already_graded(ours):
    before = statuses(ours["root"])
    proc = grade_cli(ours["root"], "--workers", "2")
    assert proc.returncode == 0, proc.stderr[-2000:]
    n = len(CLASS) + len(ours["broken"])
    assert proc.stdout.startswith(f"graded 0, failed 0, skipped as already graded {n} ")
    assert statuses(ours["root"]) == before


def test_kill_stops_an_unconfined_kernel():
    """Kernel.kill() (the total-time watchdog) ends the kernel also without a sandbox."""
    from rnncourse.run.kernel import Kernel, KernelSpec
    from rnncourse.run.tasks import Task

    kernel = Kernel(KernelSpec.from_task(Task.from_dict({"files": {}, "confine": False}))).start()
    try:
        proc = kernel.km.provisioner.process
        assert proc.poll() is None
        kernel.kill()
        assert proc.poll() is not None, "the kernel outlived kill()"
    finally:
        kernel.close()
