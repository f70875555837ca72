"""The per-cell output cap counts every kind of output, and never turns an error into a pass."""

import json

import nbformat
from nbgrader import utils

from rnncourse.run import outputcap

LIMIT = 1024 ** 2
BIG = 30 * 1024 ** 2


def _cell(outputs):
    cell = nbformat.v4.new_code_cell("check('rnn_forward', globals())")
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": "rnn_forward_hidden", "points": 10,
                                 "solution": False, "locked": True}
    cell.outputs = [nbformat.from_dict(o) for o in outputs]
    return cell


def _result(text, n=1):
    return {"output_type": "execute_result", "execution_count": n, "metadata": {},
            "data": {"text/plain": text, "text/html": "<b>" + text + "</b>"}}


def _error(value):
    return {"output_type": "error", "ename": "ValueError", "evalue": value,
            "traceback": ["Traceback (most recent call last)", "ValueError: " + value]}


def _grades(nb):
    return [utils.determine_grade(c)[0] for c in nb.cells]


def test_results_and_errors_count_towards_the_cap():
    nb = nbformat.v4.new_notebook()
    nb.cells = [_cell([_result("x" * BIG, i) for i in range(3)] + [_error("y" * BIG)]),
                _cell([{"output_type": "stream", "name": "stdout", "text": "z" * BIG}, _error("y" * BIG)])]
    uncut = _grades(nb)
    outputcap.cap_notebook(nb, LIMIT)
    for cell in nb.cells:
        assert len(json.dumps(cell.outputs)) < 2 * LIMIT
        assert [o.output_type for o in cell.outputs].count("error") == 1  # shortened, never dropped
        assert any("cut by the grader" in o.get("text", "") for o in cell.outputs)
    assert _grades(nb) == uncut == [10.0, 0]  # scored as the uncut cells


def test_an_oversized_value_keeps_its_start_and_small_outputs_are_untouched():
    small = [_result("0.5"), {"output_type": "stream", "name": "stdout", "text": "ok\n"}]
    nb = nbformat.v4.new_notebook()
    nb.cells = [_cell(small), _cell([_result("7" * BIG)])]
    before = json.dumps(nb.cells[0].outputs)
    outputcap.cap_notebook(nb, LIMIT)
    assert json.dumps(nb.cells[0].outputs) == before
    assert utils.determine_grade(nb.cells[0])[0] == 0.5
    value = [o for o in nb.cells[1].outputs if o.output_type == "execute_result"][0]
    assert value.data["text/plain"].startswith("7" * 1000) and len(value.data["text/plain"]) < 2 * LIMIT
    assert set(value.data) == {"text/plain"}


def test_size_of_each_kind():
    assert outputcap.size("stream", {"text": "abc"}) == 3
    assert outputcap.size("error", {"ename": "E", "evalue": "vv", "traceback": ["ttt"]}) == 6
    assert outputcap.size("execute_result", {"data": {"text/plain": "12", "image/png": "abcd"}}) == 6


def _record(fn="rnn_forward"):
    return {"output_type": "display_data", "metadata": {},
            "data": {outputcap.RECORD_MIME: {"fn": fn, "v": 1, "outputs": {"a": {"ok": True}}}}}


def test_the_first_record_of_a_cell_is_kept_past_the_cap_and_no_flood_of_them():
    from rnncourse.verdicts import diagnosis

    flood = {"output_type": "stream", "name": "stdout", "text": "z" * BIG}
    nb = nbformat.v4.new_notebook()
    nb.cells = [_cell([flood, _record(), _record("lstm_forward"), _record("rnn_cell_forward")]),
                _cell([flood] + [_record()] * 10_000)]
    uncut = _grades(nb)
    outputcap.cap_notebook(nb, LIMIT)
    kept = [o for o in nb.cells[0].outputs if o.output_type == "display_data"]
    assert [o.data[diagnosis.MIME]["fn"] for o in kept] == ["rnn_forward"]
    assert diagnosis.from_cell(nb.cells[0], "rnn_forward").correct
    assert len(json.dumps(nb.cells[1].outputs)) < 2 * LIMIT
    assert [o.output_type for o in nb.cells[1].outputs].count("display_data") == 1
    assert _grades(nb) == uncut == [10.0, 10.0]
    assert outputcap.shortened("display_data", _record(), 0, LIMIT, record_kept=True) is None
    too_big = _record()
    too_big["data"][outputcap.RECORD_MIME]["pad"] = "x" * outputcap.RECORD_BYTES
    assert outputcap.shortened("display_data", too_big, 0, LIMIT, record_kept=False) is None
