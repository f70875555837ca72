"""Restoring the released structure: honest rearrangements keep their credit, tampering changes nothing."""

import copy

import nbformat
import pytest

from rnncourse import ASSIGNMENT, FUNCTIONS, paths
from rnncourse.authoring import sampleclass
from rnncourse.run import structure


@pytest.fixture(scope="module")
def released():
    return nbformat.read(str(paths.release_dir() / f"{ASSIGNMENT}.ipynb"), as_version=4)


@pytest.fixture
def honest(released):
    return sampleclass.fill(copy.deepcopy(released), sampleclass.student_sources())


def gid(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def where(nb, grade_id):
    return next(i for i, c in enumerate(nb.cells) if gid(c) == grade_id)


def where_source(nb, text):
    found = [i for i, c in enumerate(nb.cells) if text in c.source]
    assert len(found) == 1, found
    return found[0]


def added(source):
    return nbformat.v4.new_code_cell(source)


def read_only_intact(out, released):
    """Every released read-only cell once, as released, in released order."""
    rel = {gid(c): c for c in released.cells}
    seen = [gid(c) for c in out.cells if gid(c)]
    assert seen == [gid(c) for c in released.cells]
    for c in out.cells:
        g = gid(c)
        if g and not rel[g].metadata["nbgrader"].get("solution"):
            assert c.source == rel[g].source and c.metadata == rel[g].metadata, g


def test_untouched_notebook_is_unchanged(honest, released):
    out = structure.restore(copy.deepcopy(honest), released)
    assert [c.source for c in out.cells] == [c.source for c in honest.cells]
    assert [c.get("id") for c in out.cells] == [c.get("id") for c in honest.cells]


def test_deleted_solution_retyped_in_a_new_cell(honest, released):
    i = where(honest, "rnn_forward")
    retyped = added(honest.cells[i].source)
    honest.cells[i] = retyped
    out = structure.restore(honest, released)
    read_only_intact(out, released)
    assert out.cells[where(out, "rnn_forward")].source == ""  # no stub after the student's cell
    mine = where_source(out, "def rnn_forward(")
    assert where(out, "rnn_forward_text") < mine < where(out, "rnn_forward_visible")
    before_test = out.cells[:where(out, "rnn_forward_hidden")]
    assert not any("NotImplementedError" in c.source for c in before_test if gid(c) == "rnn_forward")


def test_pasted_test_copy_does_not_drag_a_helper_past_the_test(honest, released):
    i = where(honest, "lstm_cell_forward")
    copy_of_test = copy.deepcopy(honest.cells[where(honest, "lstm_cell_backward_visible")])
    helper = added("def my_step(*args):\n    return lstm_cell_forward(*args)\n")
    honest.cells[i + 1:i + 1] = [copy_of_test, helper]
    out = structure.restore(honest, released)
    read_only_intact(out, released)
    assert where_source(out, "def my_step") < where(out, "lstm_cell_forward_visible")


def test_moved_markdown_cell_does_not_move_the_cells_after_it(honest, released):
    md = honest.cells.pop(where(honest, "lstm_forward_text"))
    i = where(honest, "lstm_cell_forward")
    honest.cells[i + 1:i + 1] = [md, added("def gate(z):\n    return 1 / (1 + np.exp(-z))\n")]
    out = structure.restore(honest, released)
    read_only_intact(out, released)
    assert (where(out, "lstm_cell_forward") < where_source(out, "def gate")
            < where(out, "lstm_cell_forward_visible"))


def test_moved_solution_cell_keeps_its_helper(honest, released):
    sol = honest.cells.pop(where(honest, "rnn_cell_backward"))
    honest.cells[where(honest, "lstm_backward_visible"):where(honest, "lstm_backward_visible")] = [
        sol, added("def helper_of_rnn_cell_backward():\n    pass\n")]
    out = structure.restore(honest, released)
    read_only_intact(out, released)
    assert out.cells[where(out, "rnn_cell_backward")].source == sol.source
    assert where(out, "rnn_cell_backward") < where_source(out, "def helper_of_rnn_cell_backward") \
        < where(out, "rnn_cell_backward_visible")


def test_empty_cells_are_left_out(honest, released):
    honest.cells[1:1] = [added("") for _ in range(2500)] + [nbformat.v4.new_markdown_cell("  \n")]
    honest.cells.append(added("\n\n"))
    out = structure.restore(honest, released)
    assert len(out.cells) == len(released.cells)


def test_tampering_still_changes_nothing(honest, released):
    nb = honest
    # edited, relabelled, duplicated and deleted test cells
    nb.cells[where(nb, "rnn_forward_hidden")].source = "15"
    nb.cells[where(nb, "rnn_forward_hidden")].metadata["nbgrader"]["points"] = 1000
    relabelled = nb.cells[where(nb, "lstm_forward_hidden")]
    relabelled.metadata["nbgrader"]["grade_id"] = "lstm_forward_hidden_mine"
    relabelled.source = "print('relabelled')"
    as_solution = nb.cells[where(nb, "rnn_backward_hidden")]
    as_solution.metadata["nbgrader"].update(grade_id="rnn_backward", solution=True, grade=False)
    as_solution.source = "rnn_backward = None"
    fake = copy.deepcopy(nb.cells[where(nb, "rnn_cell_forward_hidden")])
    fake.source = "10"
    nb.cells.insert(where(nb, "rnn_cell_forward_hidden"), fake)
    del nb.cells[where(nb, "lstm_backward_visible")]
    out = structure.restore(nb, released)
    read_only_intact(out, released)
    sources = [c.source for c in out.cells]
    assert "15" not in sources and "10" not in sources
    for fn in FUNCTIONS:
        assert out.cells[where(out, fn)].source == honest.cells[where(honest, fn)].source
    # the relabelled cells are kept as the student's own cells where they were, with no nbgrader metadata
    for text in ("print('relabelled')", "rnn_backward = None"):
        i = where_source(out, text)
        assert "nbgrader" not in out.cells[i].metadata


@pytest.mark.parametrize("submitted,released,expected", [
    (["a", "b", "c"], ["a", "b", "c"], {0, 1, 2}),
    (["c", "a", "b"], ["a", "b", "c"], {1, 2}),            # c moved to the top
    (["a", "c", None, "b", "c"], ["a", "b", "c"], {0, 3, 4}),  # a copy of c pasted higher up
    (["a", "a", "b"], ["a", "b"], {0, 2}),                 # adjacent copies: the first one
    ([None, "x", "b"], ["a", "b"], {2}),                   # a deleted, x unknown
])
def test_align(submitted, released, expected):
    assert structure.align(submitted, released) == expected


def test_the_recheck_runs_every_code_cell_of_a_long_restored_notebook(honest, released):
    from rnncourse.verdicts import recheck

    honest.cells[1:1] = [nbformat.v4.new_markdown_cell(f"note {k}") for k in range(2500)]
    out = structure.restore(honest, released)
    ran = {c["source"] for c in recheck.student_cells(out)}
    assert all(out.cells[where(out, fn)].source in ran for fn in FUNCTIONS)
