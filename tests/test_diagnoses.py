"""Named mistakes in the hidden tests' reports (rnncourse.verdicts.verdict.compare / report).

A held-out set of typical mistaken implementations, each written as an edit of
the reference in the style students write (``np.dot``, ``np.vstack``, the
loop of the classic exercise...), not as the catalogue's own edit: each must be
caught, cost points in its own function only, and be named once.
"""

import re

import numpy as np
import pytest

from rnncourse import FUNCTIONS, grading
from rnncourse.client import testcases
from rnncourse.client.runcase import run_case
from rnncourse.content import mistakes, refdata, reference
from rnncourse.verdicts import verdict

# (function, edits of the reference source, the mistake labels the report must name)
HELD_OUT = [
    ("rnn_cell_forward", [("Waa @ a_prev + Wax @ xt + ba", "np.dot(Waa, a_prev) + np.dot(Wax, xt)")],
     ["bias_forgotten"]),
    ("rnn_cell_forward", [("softmax(Wya @ a_next + by)", "softmax(np.dot(Wya, a_prev) + by)")],
     ["prediction_from_a_prev"]),
    ("rnn_cell_forward", [("Wax @ xt + ba)", "Wax @ xt)"),
                          ("softmax(Wya @ a_next + by)", "np.dot(Wya, a_next) + by")],
     ["bias_forgotten", "softmax_missing"]),
    ("rnn_forward", [("a_next = a0\n", "a_next = a_prev = a0\n"),
                     ("x[:, :, t], a_next, parameters", "x[:, :, t], a_prev, parameters")],
     ["a0_every_step"]),
    # The previous state read back from a[:, :, t - 1]: zeros at t = 0 instead of a0 (and, a view
    # of a, the cache then holds the last step's state: a and y_pred are named, not the caches).
    ("rnn_forward", [("x[:, :, t], a_next, parameters", "x[:, :, t], a[:, :, t - 1], parameters")],
     ["a0_ignored"]),
    ("rnn_cell_backward", [("dz = da_next * (1 - a_next ** 2)",
                           "dz = (1 - np.square(np.tanh(a_next))) * da_next")],
     ["tanh_applied_twice"]),
    ("rnn_cell_backward", [("dz = da_next * (1 - a_next ** 2)", "dz = 1 - np.power(a_next, 2)")],
     ["da_next_not_multiplied"]),
    ("rnn_backward", [("reversed(range(T_x))", "range(0, T_x)")], ["steps_walked_forward"]),
    ("rnn_backward", [("da[:, :, t] + da_prevt", "np.copy(da[:, :, t])")], ["next_step_gradient_not_added"]),
    ("lstm_cell_forward", [("np.concatenate([a_prev, xt], axis=0)", "np.vstack((xt, a_prev))")],
     ["concat_order"]),
    ("lstm_cell_forward", [("cct = np.tanh(Wc @ concat + bc)", "cct = sigmoid(np.dot(Wc, concat) + bc)")],
     ["candidate_sigmoid"]),
    ("lstm_cell_forward", [("c_next = ft * c_prev + it * cct", "c_next = it * cct + c_prev")],
     ["forget_gate_missing"]),
    ("lstm_forward", [("    for t in range(T_x):\n",
                       "    for t in range(T_x):\n        c_next = np.zeros((n_a, m))\n")],
     ["c_not_carried"]),
    ("lstm_cell_backward", [("dcct = dc * it * (1 - cct ** 2)", "dcct = dc_next * it * (1 - cct * cct)"),
                            ("dit = dc * cct", "dit = dc_next * cct"),
                            ("dft = dc * c_prev", "dft = dc_next * c_prev")],
     ["gates_use_dc_next"]),
    ("lstm_cell_backward", [("dot = da_next * tanh_c * ot * (1 - ot)", "dot = da_next * np.tanh(c_next)")],
     ["output_gate_derivative_missing"]),
    ("lstm_cell_backward", [("dc = dc_next + da_next * ot * (1 - tanh_c ** 2)", "dc = dc_next")],
     ["a_next_path_missing_from_dc"]),
    # The classic exercise's loop as often handed in: neither gradient carried between steps.
    ("lstm_backward", [("lstm_cell_backward(da[:, :, t] + da_prevt, dc_prevt,",
                        "lstm_cell_backward(da[:, :, t], np.zeros((n_a, m)),"),
                       ('        da_prevt = grads["da_prev"]\n', ""),
                       ('        dc_prevt = grads["dc_prev"]\n', ""),
                       ('gradients["da0"] = da_prevt', 'gradients["da0"] = grads["da_prev"]')],
     ["next_step_gradient_not_added", "cell_gradient_not_carried"]),
    ("lstm_backward", [("gradients[key] += grads[key]", "gradients[key] = grads[key] + 0")],
     ["gradients_overwritten"]),
]


def _module(fn, edits):
    sources = dict(reference.solution_sources())
    for old, new in edits:
        assert old in sources[fn], (fn, old)
        sources[fn] = sources[fn].replace(old, new)
    return reference.build(sources, name=f"held_out_{fn}")


def _grade(module, fn):
    ns = vars(module)  # the functions' globals, as the notebook's globals() in a hidden test
    diagnosis = verdict.diagnose(fn, refdata.load()[fn], ns[fn], ns)
    return diagnosis, verdict.report(fn, diagnosis)


@pytest.mark.parametrize("fn,edits,labels", HELD_OUT, ids=lambda v: v if isinstance(v, str) else "")
def test_held_out_mistake_is_caught_isolated_and_named_once(fn, edits, labels):
    module = _module(fn, edits)
    for other in FUNCTIONS:
        diagnosis, (points, n_ok, text) = _grade(module, other)
        if other != fn:
            assert points == testcases.POINTS[other], (other, text)
            continue
        assert points < testcases.POINTS[fn], text
        assert diagnosis.mistakes() == labels, text
        # one explanation, for the function or for the outputs it explains (said once)
        assert [diagnosis.named] + list(diagnosis.by_output.values()) in ([[labels]], [[], *[[labels]] *
                                                                              len(diagnosis.by_output)]), text
        for label in labels:
            assert text.count(mistakes.by_label(fn, label).message) == 1, text
        assert len(re.findall(r"looks? like", text)) == 1, text


def test_a_catalogued_mistake_is_named_once_for_its_function():
    """One sentence for the function, not one under each wrong output."""
    for m in mistakes.MISTAKES:
        diagnosis, (_, _, text) = _grade(mistakes.variant(m), m.fn)
        assert [m.label] in diagnosis.named, (m.label, text)
        assert text.count(m.message) == 1 and text.count("looks like") == 1, text


def test_two_mistakes_on_different_outputs_are_each_named_for_their_outputs():
    """When no single explanation covers the function, outputs sharing one are named together."""
    fn = "rnn_cell_backward"
    edits = [("dz @ a_prev.T", "dz @ a_next.T"),  # dWaa only: a catalogued mistake
             ("dba = np.sum(dz, axis=1, keepdims=True)", "dba = np.sum(dz, axis=1, keepdims=True) * 2")]
    diagnosis, (points, n_ok, text) = _grade(_module(fn, edits), fn)
    assert n_ok == 3 and not diagnosis.named
    assert diagnosis.by_output == {"dWaa": [["dwaa_wrong_state"]]}
    assert "  dWaa looks like: " + mistakes.by_label(fn, "dwaa_wrong_state").message in text
    assert diagnosis.mistakes() == ["dwaa_wrong_state"]


def test_points_are_the_share_of_right_outputs():
    """Naming changes the messages only: points are POINTS * (outputs right in every case) / outputs."""
    data = refdata.load()
    for m in [*mistakes.MISTAKES, *mistakes.pairs("lstm_backward")]:
        ns = vars(mistakes.variant(m))
        got = [run_case(m.fn, ns[m.fn], ns, case, verdict.reference_stand_in(m.fn)) for case in data[m.fn]]
        right = sum(all(isinstance(g[k], np.ndarray) and testcases.matches(g[k], c["expected"][k])
                        for g, c in zip(got, data[m.fn])) for k in testcases.OUTPUTS[m.fn])
        points, n_ok, _ = verdict.report(m.fn, verdict.compare(m.fn, data[m.fn], got))
        assert n_ok == right
        assert points == round(testcases.POINTS[m.fn] * right / len(testcases.OUTPUTS[m.fn]), 4)


def test_messages_of_a_function_are_distinct_and_none_contains_another():
    for fn in FUNCTIONS:
        texts = [m.message for m in mistakes.for_function(fn)]
        assert not [(a, b) for a in texts for b in texts if a != b and a in b], fn
        assert len(set(m.label for m in mistakes.for_function(fn))) == len(texts)
        assert not any(mistakes.PAIR in m.label for m in mistakes.for_function(fn))


def test_diagnosis_round_trips_as_plain_data():
    m = mistakes.combined(mistakes.by_label("lstm_backward", "next_step_gradient_not_added"),
                          mistakes.by_label("lstm_backward", "cell_gradient_not_carried"))
    diagnosis, _ = _grade(mistakes.variant(m), "lstm_backward")
    d = diagnosis.to_dict()
    assert d["mistakes"] == ["next_step_gradient_not_added", "cell_gradient_not_carried"]
    assert verdict.Diagnosis.from_dict(d) == diagnosis


def test_the_judge_records_the_named_mistakes(monkeypatch, capsys):
    """``make grade`` keeps the labels per function (judge results -> worker -> grading records)."""
    from rnncourse.verdicts import judge

    module = _module(*HELD_OUT[-2][:2])  # lstm_backward carrying neither gradient
    with judge.Judge() as j:
        monkeypatch.setenv(grading.JUDGE_ENV, j.socket_path)
        with pytest.raises(AssertionError, match="two mistakes together"):
            grading.check("lstm_backward", vars(module))
        grading.check("lstm_forward", vars(module))
    capsys.readouterr()
    assert j.results["lstm_backward"]["mistakes"] == ["next_step_gradient_not_added",
                                                      "cell_gradient_not_carried"]
    assert j.results["lstm_forward"]["mistakes"] == []
