"""``make report`` on a class whose mistakes are known, graded by stock nbgrader and by ``make grade``.

The class is the shared one of ``tests/gradedclass.py``: every student of
:func:`rnncourse.authoring.sampleclass.mixed_students` makes one catalogued
mistake in each function (student k the k-th mistake), so together they plant
every mistake of the catalogue; a correct student, one and two typical mistakes,
a blank notebook and a cell that never returns complete the class. Both graders
grade it once per session (the ``stock_graded`` and ``ours_graded`` fixtures);
the report runs on a copy of each that keeps only the records; the report of
each must count every planted mistake in its function for exactly the students
who made it, and the two reports must agree.
"""

import csv
import html
import json
import re
import sqlite3
import subprocess
import sys

import gradedclass
import pytest

from rnncourse import FUNCTIONS
from rnncourse.content import mistakes
from rnncourse.reports import classreport

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

CLASS = gradedclass.CLASS


def planted():
    """``{(fn, label): {students}}`` of the class."""
    out = {}
    for student, kind in CLASS.items():
        if isinstance(kind, list):
            for fn, label in kind:
                out.setdefault((fn, label), set()).add(student)
    return out


def report_cli(root):
    return subprocess.run([sys.executable, "-m", "rnncourse.cli", "report", "--root", str(root)],
                          cwd=root, capture_output=True, text=True, timeout=300)


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def stock(stock_graded, tmp_path_factory):
    # The report reads records only, never the submissions.
    root = gradedclass.copy_graded(stock_graded.root, tmp_path_factory.mktemp("report") / "stock",
                                   leave_out=("submitted",))
    proc = report_cli(root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return root


@pytest.fixture(scope="module")
def ours(ours_graded, tmp_path_factory):
    proc = ours_graded.proc
    # make grade prints the class's scores per student and function, and where grades.csv is.
    assert f"Scores per student and function ({len(CLASS)} students)" in proc.stdout
    assert next(ln for ln in proc.stdout.splitlines() if ln.startswith("correct")).split()[-1] == "100"
    assert f"grades.csv: {ours_graded.root / 'grades.csv'}" in proc.stdout
    # make grade's verdicts are in the gradebook itself: no submission, no autograded notebook.
    root = gradedclass.copy_graded(ours_graded.root, tmp_path_factory.mktemp("report") / "ours",
                                   leave_out=("submitted", "autograded", "feedback"))
    proc = report_cli(root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return root


@pytest.mark.parametrize("grader", ["stock", "ours"])
def test_every_planted_mistake_counted_in_its_function_for_its_students(grader, request):
    root = request.getfixturevalue(grader)
    rows = read_csv(root / "reports" / "rnn_lstm" / "mistakes.csv")
    assert rows and list(rows[0]) == ["function", "mistake", "students", "student_ids"]
    got = {(r["function"], r["mistake"]): set(filter(None, r["student_ids"].split(";"))) for r in rows}
    for r in rows:
        assert int(r["students"]) == len(got[(r["function"], r["mistake"])])
    for (fn, label), students in planted().items():
        assert students <= got.get((fn, label), set()), (fn, label, got.get((fn, label)))
    # A named mistake is never counted for a student who did not make one in that function.
    planted_fns = {(s, fn) for (fn, _), ss in planted().items() for s in ss}
    for (fn, label), students in got.items():
        if not label.startswith("("):
            assert all((s, fn) in planted_fns for s in students), (fn, label, students)
    assert all("correct" not in s for s in got.values())
    for fn in FUNCTIONS:
        assert got[(fn, classreport.UNEXPLAINED)] == set()
        assert "blank" in got[(fn, classreport.NOT_IMPLEMENTED)]
    assert got[("rnn_cell_backward", classreport.NO_VERDICT)] == {"hangs"}


def test_both_graders_give_the_same_report(stock, ours):
    a = read_csv(stock / "reports" / "rnn_lstm" / "mistakes.csv")
    b = read_csv(ours / "reports" / "rnn_lstm" / "mistakes.csv")
    assert a == b
    ra = {r.student: r for r in classreport.collect(stock)}
    rb = {r.student: r for r in classreport.collect(ours)}
    assert set(ra) == set(rb) == set(CLASS)
    for s in CLASS:
        assert ra[s].scores == rb[s].scores and ra[s].state == rb[s].state
        assert {k: v.to_dict() for k, v in ra[s].diagnoses.items()} == \
            {k: v.to_dict() for k, v in rb[s].diagnoses.items()}
    assert ra["hangs"].flags and all("timeout" in f for f in ra["hangs"].flags)
    assert [r for r in ra.values() if r.flags] == [ra["hangs"]]
    assert ra["hangs"].recorded_by == "autograded notebook"
    assert rb["hangs"].recorded_by == "make grade"


def test_make_grade_stores_the_diagnoses_in_the_gradebook(ours):
    con = sqlite3.connect(f"file:{ours / 'gradebook.db'}?mode=ro", uri=True)
    try:
        details = dict(con.execute("SELECT student, details FROM rnncourse_grading").fetchall())
    finally:
        con.close()
    mixed = json.loads(details["mixed_1"])
    d = mixed["rnn_cell_forward_hidden"]["diagnosis"]
    assert d["fn"] == "rnn_cell_forward"
    first = mistakes.for_function("rnn_cell_forward")[0].label
    assert any(first in v.get("mistakes", []) for v in d["outputs"].values())


@pytest.mark.parametrize("grader", ["stock", "ours"])
def test_the_page_is_self_contained_and_says_where_each_mistake_is_explained(grader, request):
    root = request.getfixturevalue(grader)
    page = (root / "reports" / "rnn_lstm" / "index.html").read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page), "the page loads from the network"
    assert re.findall(r'src="data:image/png;base64,', page)
    assert "<script" not in page
    for fn in FUNCTIONS:
        assert f"<code>{fn}</code>" in page
    # Every planted mistake's message, next to its section of the notebook.
    for (fn, label) in planted():
        m = next(m for m in mistakes.MISTAKES if m.fn == fn and m.label == label)
        row = page[page.index(f"<code>{label}</code>", page.index(f"<code>{fn}</code>")):]
        row = row[: row.index("</tr>")]
        assert "§ " in row, (fn, label)
        assert html.escape(m.message) in page
    assert "hangs" in page[page.index("Students to look at"):]
    assert f"<b>{len(CLASS)}</b>students" in page
