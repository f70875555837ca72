"""Honest notebooks written or arranged in unusual ways: ``make grade`` scores them as stock nbgrader.

A small class, graded by stock ``nbgrader autograde`` and by the runner
(confined kernels, the judge's stand-in for the reference cell, the re-check,
the restored structure):

* ``call_styles``: cells called by keyword (``lstm_forward``, as in
  ``lstm_cell_forward(xt=xt, a_prev=..., ...)``), through ``functools.partial``,
  ``*args``/``**kwargs`` with caches as lists, and through a helper;
* ``values``, ``values2``: Fortran-ordered input, an integer cell state,
  float32 input (costs points in both), one buffer reused for every step
  (wrong caches in both), a backward cell that calls the forward cell;
* ``wrong_calls``: a missing and a doubled argument (zero in both);
* ``columns``, ``columns2``: every sequence function calls its cell one example
  (one column of the batch) at a time, inside or outside the time loop, with
  ``x[:, i:i+1, t]``, 1-D slices reshaped, ``np.newaxis`` or a list index, two
  examples at a time, or the whole batch plus a 1-D shape check;
* ``sanity_checks``, ``off_case``: a correct ``lstm_forward`` that also prints
  the shape of a cell call on random inputs, the same in ``rnn_backward``
  (full marks in both), and an ``lstm_forward`` whose ``c`` comes from a call
  on a halved cell state (partial credit in both): the judge answers those
  calls with NaN, and the report of that function says so in one line;
* ``retyped``, ``moved_markdown``, ``empty_cells``: a solution cell deleted and
  retyped in a new cell, a markdown cell moved with a helper under it, 2,500
  empty cells;
* ``pasted_test``: a copy of a locked test cell pasted higher up with a helper
  under it: stock nbgrader fails the notebook; the runner gives full marks.

Cell by cell, the runner's scores equal stock's (full marks for pasted_test).
About two minutes on the 2-core machine.
"""

import copy
import re

import nbformat
import pytest
from test_judge import variant_source

from rnncourse import ASSIGNMENT, FUNCTIONS, sandbox
from rnncourse.authoring import bench, sampleclass
from rnncourse.client import testcases
from rnncourse.run import gradebook

ok, why = sandbox.available()
pytestmark = [pytest.mark.skipif(not ok, reason=f"confinement unavailable: {why}"),
              pytest.mark.slow, pytest.mark.sandbox]

STYLES = {  # variants of tests/test_judge.py, at most one per function
    "call_styles": ["keyword", "backward_list_cache", "backward_keyword"],
    "values": ["integer_state", "reused_buffer", "calls_another"],
    "values2": ["fortran_input", "float32_input"],
    "wrong_calls": ["missing_argument", "twice_given"],
    "columns": ["columns_outside", "columns_inside", "columns_backward", "columns_lstm_backward"],
    "columns2": ["columns_newaxis", "columns_debug", "columns_pairs", "columns_lstm_inside"],
    "sanity_checks": ["sanity_check", "sanity_check_backward"],
    "off_case": ["one_output_off_case"],
}
NOTE = "on inputs outside its test case, and those calls returned NaN"
def _where(nb, grade_id):
    return next(i for i, c in enumerate(nb.cells)
                if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def notebooks(released):
    """``{student: notebook}`` of the class."""
    out = {}
    partial = (
        "import functools\n" + sampleclass.student_sources()["rnn_forward"].replace(
            "rnn_cell_forward(x[:, :, t], a_next, parameters)",
            "functools.partial(rnn_cell_forward, parameters=parameters)(x[:, :, t], a_prev=a_next)"))
    for student, names in STYLES.items():
        sources = sampleclass.student_sources()
        for name in names:
            fn, src = variant_source(name)
            assert fn not in {variant_source(n)[0] for n in names if n != name}, name
            sources[fn] = "import functools\n" + src
        if student == "call_styles":
            sources["rnn_forward"] = partial
        out[student] = sampleclass.fill(copy.deepcopy(released), sources)
    honest = sampleclass.fill(copy.deepcopy(released), sampleclass.student_sources())

    nb = copy.deepcopy(honest)
    i = _where(nb, "rnn_forward")
    nb.cells[i] = nbformat.v4.new_code_cell(nb.cells[i].source)
    out["retyped"] = nb

    nb = copy.deepcopy(honest)
    md = nb.cells.pop(_where(nb, "lstm_forward_text"))
    i = _where(nb, "lstm_cell_forward")
    nb.cells[i].source = nb.cells[i].source.replace("sigmoid(", "my_sigmoid(")
    nb.cells[i + 1:i + 1] = [md, nbformat.v4.new_code_cell("def my_sigmoid(z):\n    return sigmoid(z)\n")]
    out["moved_markdown"] = nb

    nb = copy.deepcopy(honest)
    nb.cells[1:1] = [nbformat.v4.new_code_cell("") for _ in range(2500)]
    out["empty_cells"] = nb

    nb = copy.deepcopy(honest)
    test_copy = copy.deepcopy(nb.cells[_where(nb, "lstm_cell_backward_visible")])
    test_copy["id"] = "pasted-copy"  # JupyterLab gives a pasted cell an id of its own
    i = _where(nb, "lstm_forward")
    nb.cells[i].source = re.sub(r"lstm_cell_forward\(", "my_step(", nb.cells[i].source)
    j = _where(nb, "lstm_cell_forward")
    nb.cells[j + 1:j + 1] = [test_copy, nbformat.v4.new_code_cell(
        "def my_step(*args):\n    return lstm_cell_forward(*args)\n")]
    out["pasted_test"] = nb
    return out


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    seed = bench.make_course(tmp_path_factory.mktemp("stock-equal") / "seed",
                             {s: None for s in [*STYLES, "retyped", "moved_markdown", "empty_cells",
                                                "pasted_test"]}, timeout=10)
    released = nbformat.read(str(seed / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"), as_version=4)
    class_ = notebooks(released)
    for student, nb in class_.items():
        nbformat.write(nb, str(seed / "submitted" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"))
    stock = bench.clone_course(seed, seed.parent / "stock")
    bench.run_stock(stock)
    for _ in range(2):  # a busy machine ("Timeout waiting for IOPub output"): again, as an instructor would
        done = gradebook.grades(f"sqlite:///{stock / 'gradebook.db'}")
        for student in set(class_) - set(done) - {"pasted_test"}:
            bench.run_stock(stock, ("--student", student, "--force"))
    ours = bench.clone_course(seed, seed.parent / "ours")
    _, mine = bench.run_runner(ours, workers=2)
    assert mine.returncode == 0, mine.stdout[-3000:] + mine.stderr[-3000:]
    return {"stock": gradebook.grades(f"sqlite:///{stock / 'gradebook.db'}"),
            "ours": gradebook.grades(f"sqlite:///{ours / 'gradebook.db'}"), "students": list(class_),
            "feedback": {s: _outputs(ours / "autograded" / s / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
                         for s in class_}}


def _outputs(path):
    """``{grade_id: text of the cell's outputs}`` of a graded notebook (``{}`` when there is none)."""
    if not path.exists():
        return {}
    nb = nbformat.read(str(path), as_version=4)
    out = {}
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id and cell.cell_type == "code":
            out[grade_id] = "".join(o.get("text", "") + o.get("evalue", "") + str(o.get("data", ""))
                                    for o in cell.get("outputs", []))
    return out


FULL = {f"{fn}_hidden": float(testcases.POINTS[fn]) for fn in FUNCTIONS}


def test_scores_equal_stock_cell_by_cell(graded):
    for student in graded["students"]:
        if student == "pasted_test":
            continue
        assert graded["ours"][student] == graded["stock"][student], student


def test_the_class_is_mixed(graded):
    stock = graded["stock"]
    for student in ("call_styles", "retyped", "moved_markdown", "empty_cells", "columns", "columns2"):
        assert stock[student] == FULL, student
    assert stock["values"]["rnn_forward_hidden"] < FULL["rnn_forward_hidden"]  # the reused buffer
    assert stock["values"]["lstm_cell_backward_hidden"] == FULL["lstm_cell_backward_hidden"]
    assert stock["values2"]["rnn_forward_hidden"] == FULL["rnn_forward_hidden"]
    assert stock["wrong_calls"]["lstm_forward_hidden"] == 0 == stock["wrong_calls"]["rnn_forward_hidden"]
    assert stock["sanity_checks"] == FULL
    assert 0 < stock["off_case"]["lstm_forward_hidden"] < FULL["lstm_forward_hidden"]


def test_off_case_calls_are_named_in_their_reports_only(graded):
    """The hidden test of a function that called its cell off the test case says so; no other does."""
    feedback = graded["feedback"]
    named = {(s, g) for s, cells in feedback.items() for g, text in cells.items() if NOTE in text}
    assert named == {("sanity_checks", "lstm_forward_hidden"), ("sanity_checks", "rnn_backward_hidden"),
                     ("off_case", "lstm_forward_hidden")}


def test_a_pasted_test_cell_costs_nothing(graded):
    assert not any(graded["stock"].get("pasted_test", {}).values()), "stock nbgrader graded it"
    assert graded["ours"]["pasted_test"] == FULL
