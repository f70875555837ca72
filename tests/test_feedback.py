"""What a student reads in the feedback: the hidden tests' reports, nothing of the instructor.

Both graders: stock ``nbgrader autograde`` and ``make grade`` (confined), each followed by
stock ``nbgrader generate_feedback``. A function with nothing right raises in its hidden test
cell (0 points); its feedback shows the report (which output, by how much, the named mistake)
and no frame of the grading code, no path of the course or of the sandbox (tracebacks of
the student's own cells, e.g. a failing visible test, stay as IPython shows them).
"""

import html
import re
from pathlib import Path

import pytest

from rnncourse import ASSIGNMENT, FUNCTIONS
from rnncourse.content import mistakes
from rnncourse.verdicts import diagnosis

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

MESSAGE = next(m.message for m in mistakes.MISTAKES if m.label == "bias_forgotten")


def feedback_text(root, student):
    page = (root / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    return " ".join(text.split())


@pytest.fixture(scope="module")
def stock_run(stock_graded):
    """The shared class (``tests/gradedclass.py``) graded by stock nbgrader, and what it printed."""
    return stock_graded.root, stock_graded.stderr


@pytest.fixture(scope="module")
def stock(stock_run):
    return stock_run[0]


# What nbgrader itself prints for every submission (docs/assignment.md: "Warnings nbgrader prints that are
# harmless"): hidden test cells differ from their released copies by construction; nbgrader's
# gradebook under SQLAlchemy 2; ipykernel's note on local TCP.
HARMLESS = re.compile(r"Attribute 'checksum' for cell (\w+)_hidden has changed!"
                      r"|SAWarning: Object of type <Submitted\w+> not in session"
                      r"|Kernel is running over TCP without encryption")


@pytest.fixture(scope="module")
def ours(ours_graded):
    """The shared class graded by ``make grade`` (confined), then stock generate_feedback."""
    return ours_graded.root


def leaks(text, root):
    """Anything of the instructor's side in a student's feedback."""
    found = [s for s in ("grading.py", "raise AssertionError", "site-packages",
                         "/opt/rnncourse", "rnncourse/", str(root), str(Path.home()),
                         str(Path(__file__).resolve().parent.parent), "refdata.load")
             if s in text]
    # frames of files (IPython: "File /x/y.py:12, in f"); the student's own cells show as "Cell In[3]"
    return found + re.findall(r"File \"[^\"]+\", line \d+|File \S+\.py:\d+", text)


@pytest.mark.parametrize("grader", ["stock", "ours"])
def test_feedback_shows_the_report_and_nothing_of_the_instructor(grader, request):
    root = request.getfixturevalue(grader)
    text = feedback_text(root, "bias_forgotten")
    assert "rnn_cell_forward: 0 of 3 outputs correct" in text
    assert "[XX] a_next: wrong values in test case 1" in text and "max abs error" in text
    assert f"This looks like: {MESSAGE}" in text
    assert "HiddenTestFailure" in text
    assert leaks(text, root) == []
    blank = feedback_text(root, "blank")
    assert "lstm_backward is not implemented yet (it raised NotImplementedError)" in blank
    assert leaks(blank, root) == []


def test_stock_autograde_warns_only_what_nbgrader_always_warns(stock_run):
    _, stderr = stock_run
    warnings = [line for line in stderr.splitlines() if "WARNING" in line or "Warning:" in line]
    assert warnings, "expected nbgrader's own warnings (is stderr captured?)"
    assert [w for w in warnings if not HARMLESS.search(w)] == []
    hidden = {m.group(1) for m in map(HARMLESS.search, warnings) if m and m.group(1)}
    assert hidden <= set(FUNCTIONS)


@pytest.mark.parametrize("grader", ["stock", "ours"])
def test_the_record_is_kept_in_the_notebook_and_not_shown_in_the_feedback(grader, request):
    import nbformat

    root = request.getfixturevalue(grader)
    for student in ("correct", "bias_forgotten", "blank"):
        page = (root / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
        raw = html.unescape(page)
        assert "rnncourse-diagnosis" not in raw and diagnosis.MIME not in raw, student
        assert '"outputs":' not in raw.replace(" ", "") and '"fn":' not in raw.replace(" ", ""), student
        nb = nbformat.read(root / "autograded" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", 4)
        hidden = {c.metadata.nbgrader["grade_id"]: c for c in nb.cells
                  if c.metadata.get("nbgrader", {}).get("grade_id", "").endswith("_hidden")}
        for fn in FUNCTIONS:
            cell = hidden[f"{fn}_hidden"]
            shown = [o for o in cell.outputs if diagnosis.MIME in o.get("data", {})]
            assert [o.output_type for o in shown] == ["display_data"], (student, fn)
            assert set(shown[0].data) == {diagnosis.MIME}
            assert "rnncourse-diagnosis" not in diagnosis.cell_text(cell), (student, fn)
            d = diagnosis.from_cell(cell, fn)
            wrong = student == "blank" or (student, fn) == ("bias_forgotten", "rnn_cell_forward")
            assert d.correct != wrong, (student, fn)
        if student == "bias_forgotten":
            assert diagnosis.from_cell(hidden["rnn_cell_forward_hidden"],
                                       "rnn_cell_forward").mistakes() == ["bias_forgotten"]
    log = (root / "generate_feedback.log").read_text()
    assert "mimetype" not in log and diagnosis.MIME not in log, log[-2000:]


@pytest.mark.parametrize("grader", ["stock", "ours"])
def test_autograded_notebooks_keep_how_long_each_cell_took(grader, request):
    """nbclient's timestamps survive the inert copy: `make bench` tells where the time goes from them."""
    from rnncourse.authoring import bench

    root = request.getfixturevalue(grader)
    spent = bench.cell_breakdown(root / "autograded", ["correct", "bias_forgotten"])
    assert spent["hidden test cells"] > 0 and spent["other cells"] > 0, spent
    assert sum(spent.values()) < 60, spent  # seconds per notebook, not a misread timestamp
