"""rnncourse.run.scoring: nbgrader's own rule in the notebook, then the lowest trusted verdict."""

import nbformat
import pytest
from nbgrader.utils import determine_grade

from rnncourse.client import testcases
from rnncourse.run import scoring

FN = "rnn_forward"
GID = f"{FN}_hidden"
MAX = testcases.POINTS[FN]


def _test_cell(outputs, executed=True, points=MAX, gid=GID):
    cell = nbformat.v4.new_code_cell(f'check("{FN}", globals())')
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": gid, "points": points, "solution": False,
                                 "locked": True, "schema_version": 3}
    cell.outputs = [nbformat.from_dict(o) for o in outputs]
    cell.execution_count = 1 if executed else None
    return cell


def _answer_cell(source, checksum=None):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade": False, "grade_id": f"{FN}_answer", "solution": True,
                                 "locked": False, "schema_version": 3}
    if checksum:
        cell.metadata["nbgrader"]["checksum"] = checksum
    return cell


def _score(cells, confined=False, judge=None, recheck=None):
    nb = nbformat.writes(nbformat.v4.new_notebook(cells=cells))
    return scoring.score_notebook(nb, confined, judge, recheck)


def _result(value):
    return {"output_type": "execute_result", "execution_count": 1, "metadata": {},
            "data": {"text/plain": repr(value)}}


ERROR = {"output_type": "error", "ename": "HiddenTestFailure", "evalue": "no", "traceback": []}
STDERR = {"output_type": "stream", "name": "stderr", "text": "a warning\n"}


@pytest.mark.parametrize("outputs", [[], [_result(7.5)], [ERROR], [STDERR], [_result(3.0), STDERR]],
                         ids=["silent", "partial", "error", "stderr", "partial+stderr"])
def test_unconfined_scores_are_nbgraders_own(outputs):
    cell = _test_cell(outputs)
    scores, _, flags, details = _score([cell])
    expected, _ = determine_grade(cell, None)
    assert scores[GID] == expected == details[GID]["final"]
    assert flags == []


def test_partial_credit_above_the_maximum_scores_zero_and_is_flagged():
    scores, _, flags, _ = _score([_test_cell([_result(MAX + 1)])])
    assert scores[GID] == 0.0
    assert flags and flags[0].startswith(GID)


def test_a_test_cell_that_never_ran_scores_zero_in_the_notebook():
    scores, _, _, details = _score([_test_cell([], executed=False)])
    assert scores[GID] == 0.0 and details[GID]["ran"] is False


def test_confined_keeps_the_lowest_verdict_and_flags_a_higher_notebook():
    judge = {FN: {"points": MAX / 2, "report": "half", "mistakes": ["a0_ignored"]}}
    recheck = {FN: {"points": MAX, "report": "all"}}
    scores, _, flags, details = _score([_test_cell([])], True, judge, recheck)
    assert scores[GID] == MAX / 2
    assert details[GID]["judge"] == MAX / 2 and details[GID]["recheck"] == MAX
    assert details[GID]["mistakes"] == ["a0_ignored"]
    assert any("possible tampering" in f and "judge" in f for f in flags)


def test_confined_without_a_judge_record_scores_zero():
    scores, _, flags, _ = _score([_test_cell([])], True, {}, {FN: {"points": MAX, "report": ""}})
    assert scores[GID] == 0.0
    assert flags  # the notebook claims full points nobody recorded


def test_confined_scales_the_verdicts_to_the_cells_points():
    judge = {FN: {"points": MAX, "report": ""}}
    scores, _, _, _ = _score([_test_cell([], points=2 * MAX)], True, judge, None)
    assert scores[GID] == 2 * MAX


def test_a_lower_recheck_is_flagged():
    judge = {FN: {"points": MAX, "report": ""}}
    scores, _, flags, _ = _score([_test_cell([])], True, judge, {FN: {"points": 0.0, "report": ""}})
    assert scores[GID] == 0.0
    assert any("re-check" in f for f in flags)


def test_answer_cells_get_no_response_when_unchanged():
    from nbgrader.utils import compute_checksum

    blank = _answer_cell("raise NotImplementedError()")
    blank.metadata["nbgrader"]["checksum"] = compute_checksum(blank)
    edited = _answer_cell("def rnn_forward(): pass", checksum=blank.metadata["nbgrader"]["checksum"])
    edited.metadata["nbgrader"]["grade_id"] = "other_answer"
    _, comments, _, _ = _score([blank, edited])
    assert comments == {f"{FN}_answer": "No response.", "other_answer": None}


@pytest.mark.parametrize("gid, fn", [("rnn_forward_hidden", "rnn_forward"),
                                     ("rnn_cell_forward_test", "rnn_cell_forward"),
                                     ("lstm_cell_backward_hidden", "lstm_cell_backward"),
                                     ("intro_question", None)])
def test_function_of_takes_the_longest_matching_name(gid, fn):
    assert scoring.function_of(gid) == fn
