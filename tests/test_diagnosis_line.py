"""The machine-readable record of every hidden test's verdict, and its one reader."""

import json

import pytest

from rnncourse import FUNCTIONS
from rnncourse.client import feedback, testcases
from rnncourse.content import lessons, mistakes, refdata
from rnncourse.verdicts import diagnosis, verdict


def _report(fn, module):
    ns = dict(vars(module))
    verdicts = verdict.diagnose(fn, refdata.load()[fn], ns[fn], ns)
    return verdicts, verdict.report(fn, verdicts)[2]


def _cell(text, data):
    """A hidden test cell as the notebook records it: the record's display, then the report."""
    return {"outputs": [{"output_type": "display_data", "data": {diagnosis.MIME: data},
                         "metadata": {}},
                        {"output_type": "stream", "name": "stdout", "text": text}]}


@pytest.mark.parametrize("mistake", mistakes.MISTAKES, ids=lambda m: f"{m.fn}-{m.label}")
def test_every_catalogued_mistake_is_named_in_the_record(mistake):
    verdicts, text = _report(mistake.fn, mistakes.variant(mistake))
    assert diagnosis.MARKER not in text and diagnosis.parse(text) == {}  # the text is for people
    d = diagnosis.from_cell(_cell(text, verdict.record(mistake.fn, verdicts)), mistake.fn)
    assert d.to_dict() == diagnosis.from_verdicts(mistake.fn, verdicts).to_dict()
    assert set(d.outputs) == set(testcases.OUTPUTS[mistake.fn])
    assert mistake.label in d.mistakes(), (d.to_dict(), text)
    assert not d.correct


def test_the_confined_copy_names_the_same_mime_type():
    from rnncourse.run import outputcap

    assert feedback.RECORD_MIME == outputcap.RECORD_MIME == diagnosis.MIME
    assert diagnosis.bundle(diagnosis.Record("x", {})) == {diagnosis.MIME: {"fn": "x", "v": 1,
                                                                           "outputs": {}}}


def test_the_record_is_read_as_dict_or_json_text_and_the_last_one_wins():
    rec = diagnosis.Record("rnn_cell_forward", {"a_next": diagnosis.OutputVerdict(False, ["bias_forgotten"]),
                                                "yt_pred": diagnosis.OutputVerdict(True)})
    later = diagnosis.Record("rnn_cell_forward", {"a_next": diagnosis.OutputVerdict(True),
                                                  "yt_pred": diagnosis.OutputVerdict(True)})
    cell = _cell("report", json.dumps(rec.to_dict()))
    assert diagnosis.from_cell(cell, "rnn_cell_forward").to_dict() == rec.to_dict()
    cell["outputs"].append({"output_type": "display_data", "data": {diagnosis.MIME: later.to_dict()}})
    assert diagnosis.from_cell(cell, "rnn_cell_forward").correct
    assert diagnosis.from_cell(cell, "rnn_forward") is None
    assert diagnosis.from_cell(_cell("report", "{not json"), "rnn_cell_forward") is None
    assert diagnosis.from_cell(_cell("report", {"fn": "rnn_cell_forward"}), "rnn_cell_forward") is None


def test_a_cell_graded_before_the_display_is_read_for_the_old_line():
    cell = {"outputs": [{"output_type": "stream", "name": "stdout", "text": "report\n" + _line()}]}
    assert diagnosis.from_cell(cell, "rnn_cell_forward").outputs["a_next"].mistakes == ["bias_forgotten"]


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_the_reference_is_all_correct(fn, ref):
    verdicts, text = _report(fn, ref)
    d = diagnosis.from_cell(_cell(text, verdict.record(fn, verdicts)), fn)
    assert d.correct and not d.mistakes() and not d.unexplained() and not d.errors()


def test_not_implemented_and_errors_are_told_apart():
    d = diagnosis.from_verdicts("rnn_forward", {
        "a": "rnn_forward is not implemented yet (it raised NotImplementedError)",
        "y_pred": "rnn_forward raised ValueError: shapes (5,3) and (4,10) not aligned",
        "caches": "wrong values in test case 1 (the 12 numbers of its arrays): max abs error 0.5"})
    assert d.errors() == {"missing": ["a"], "error": ["y_pred"]}
    assert d.unexplained() == ["caches"] and d.mistakes() == []


def test_named_mistakes_are_read_from_the_catalogue_messages():
    ms = mistakes.for_function("lstm_backward")
    text = f"wrong values ... This looks like: {ms[0].message}; or {ms[-1].message}."
    assert diagnosis.named_mistakes("lstm_backward", text) == [ms[0].label, ms[-1].label]
    assert diagnosis.named_mistakes("lstm_backward", "wrong values, nothing named") == []


def _line():
    return diagnosis.line(diagnosis.Record("rnn_cell_forward", {
        "a_next": diagnosis.OutputVerdict(False, ["bias_forgotten"]),
        "yt_pred": diagnosis.OutputVerdict(True)}))


@pytest.mark.parametrize("frame", [
    lambda s: f"rnn_cell_forward: 1 of 2 outputs correct\n  [XX] a_next: ...\n{s}\n",
    lambda s: f"\x1b[0;31mAssertionError\x1b[0m: rnn_cell_forward: 0 of 2\n\x1b[1m{s}\x1b[0m",
    lambda s: repr(AssertionError(f"text\n{s}")),
    lambda s: json.dumps({"evalue": f"text\n{s}"}),
    lambda s: f"Traceback (most recent call last):\n  ...\nAssertionError: head\n    {s}",
], ids=["stream", "ansi-traceback", "repr", "json-escaped", "indented"])
def test_the_parser_reads_the_line_in_any_frame(frame):
    found = diagnosis.parse(frame(_line()))
    assert found["rnn_cell_forward"].outputs["a_next"].mistakes == ["bias_forgotten"]
    assert found["rnn_cell_forward"].outputs["yt_pred"].ok


def test_the_parser_ignores_what_does_not_decode():
    assert diagnosis.parse("") == {}
    assert diagnosis.parse(None) == {}
    assert diagnosis.parse(f"{diagnosis.MARKER} {{not json") == {}
    assert diagnosis.parse(f'{diagnosis.MARKER} {{"fn": "x"}}') == {}
    assert diagnosis.parse("rnn_forward: 3 of 3 outputs correct") == {}


def test_cell_text_reads_streams_and_errors():
    cell = {"outputs": [{"output_type": "stream", "name": "stdout", "text": "a\n"},
                        {"output_type": "error", "ename": "AssertionError", "evalue": _line(),
                         "traceback": ["x"]}]}
    assert diagnosis.from_cell(cell, "rnn_cell_forward") is not None
    assert diagnosis.from_cell(cell, "rnn_forward") is None


# --- where the notebook explains each mistake


def test_every_function_has_its_section():
    secs = lessons.sections()
    assert set(secs) >= set(FUNCTIONS)
    assert secs["rnn_cell_forward"][0].startswith("1.1")
    assert secs["rnn_backward"][0].startswith("1.3")
    assert secs["lstm_backward"][0].startswith("2.4")


@pytest.mark.parametrize("mistake", mistakes.MISTAKES, ids=lambda m: f"{m.fn}-{m.label}")
def test_every_catalogued_mistake_points_into_the_notebook(mistake):
    loc = lessons.locate(mistake.fn, mistake.label)
    assert loc.section == lessons.sections()[mistake.fn][0]
    if (mistake.fn, mistake.label) in lessons.SNIPPETS:  # its snippet is still in the notebook
        assert loc.text, f"update lessons.SNIPPETS for {mistake.fn}/{mistake.label}"
        assert loc.equation or lessons.SNIPPETS[(mistake.fn, mistake.label)] in loc.text \
            or loc.text.endswith("...")


def test_equations_are_numbered_within_their_section():
    loc = lessons.locate("lstm_cell_backward", "forget_gate_missing_from_dc_prev")
    assert (loc.equation, loc.text) == (4, r"dc_{prev} = dc \odot \Gamma_f")
    assert lessons.locate("rnn_cell_forward", "bias_forgotten").equation == 1
    assert lessons.locate("rnn_cell_forward", "no_such_mistake").equation is None
