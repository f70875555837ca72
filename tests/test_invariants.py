"""Invariants a teacher would point at, checked on the reference and the helper.

* softmax columns sum to 1 (also the predictions of the forward functions);
* sigmoid, softmax and the forward passes stay silent at magnitude 1000
  (a warning on stderr zeroes an nbgrader test cell);
* an LSTM whose forget gate is saturated open and update gate closed keeps its
  cell state;
* no function modifies its inputs in place;
* the gradient dicts have exactly the documented keys and shapes.
"""

import copy
import warnings
from contextlib import contextmanager

import numpy as np
import pytest

from rnncourse import FUNCTIONS
from rnncourse.client import testcases
from rnncourse.content import mistakes, reference

helper = reference.helper_module()
CASES = testcases.CASES  # (n_x, n_a, n_y, m, T_x, seed); includes m = 1, T_x = 1, n_x = n_a
case_ids = ["x".join(map(str, c[:5])) for c in CASES]
FORWARD = ("rnn_cell_forward", "rnn_forward", "lstm_cell_forward", "lstm_forward")
BACKWARD = ("rnn_cell_backward", "rnn_backward", "lstm_cell_backward", "lstm_backward")
PREDICTION = {"rnn_cell_forward": 1, "rnn_forward": 1, "lstm_cell_forward": 2, "lstm_forward": 1}


@contextmanager
def silent():
    """Any Python warning, or any overflow / 0-division / invalid operation, is an error.

    Underflow keeps numpy's default ("ignore"): exp(-1000) rounding to 0.0 is the
    correct result and prints nothing, whereas ``np.errstate(all="raise")``
    would turn it into an exception.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
            yield


def _call(ref, fn, case):
    return getattr(ref, fn)(*testcases.make_inputs(fn, case, ref))


# --- softmax sums to 1


@pytest.mark.parametrize("scale", [1e-3, 1.0, 30.0, 1000.0])
@pytest.mark.parametrize("softmax", [helper.softmax, reference.load().softmax], ids=["helper", "notebook"])
def test_softmax_columns_sum_to_one(softmax, scale):
    z = scale * np.random.default_rng(0).standard_normal((7, 11))
    with silent():
        p = softmax(z)
    assert p.shape == z.shape
    assert np.all(p >= 0) and np.all(p <= 1)
    np.testing.assert_allclose(p.sum(axis=0), 1.0, rtol=0, atol=1e-12)


def test_softmax_is_taken_over_the_classes_not_the_examples():
    z = np.array([[0.0, 5.0], [0.0, 5.0], [0.0, 5.0]])  # 3 classes, 2 examples
    np.testing.assert_allclose(helper.softmax(z), np.full((3, 2), 1 / 3), rtol=0, atol=1e-15)


@pytest.mark.parametrize("case", CASES, ids=case_ids)
@pytest.mark.parametrize("fn", FORWARD)
def test_predictions_of_the_forward_functions_sum_to_one(ref, fn, case):
    y = _call(ref, fn, case)[PREDICTION[fn]]
    n_y, m = case[2], case[3]
    assert y.shape[:2] == (n_y, m)
    assert np.all(y >= 0)
    np.testing.assert_allclose(y.sum(axis=0), 1.0, rtol=0, atol=1e-12)


# --- no warnings at magnitude 1000


@pytest.mark.parametrize("sign", [1, -1])
def test_sigmoid_and_softmax_are_silent_at_magnitude_1000(sign):
    big = sign * 1000.0
    with silent():
        s = helper.sigmoid(np.array([[big, -big, 0.0]]))
        p = helper.softmax(np.array([[big, big, 0.0], [-big, big, 0.0]]))
        uniform = helper.softmax(np.full((4, 2), big))
    np.testing.assert_array_equal(s, [[1.0, 0.0, 0.5]] if sign > 0 else [[0.0, 1.0, 0.5]])
    np.testing.assert_array_equal(p[:, 0], [1.0, 0.0] if sign > 0 else [0.0, 1.0])
    np.testing.assert_allclose(p[:, 1:], 0.5, rtol=0, atol=1e-15)
    np.testing.assert_allclose(uniform, 0.25, rtol=0, atol=1e-15)


def test_sigmoid_and_softmax_print_nothing_at_magnitude_1000_with_numpy_defaults():
    """The situation of a notebook cell: numpy's default error state, every warning recorded."""
    x = np.array([[-1000.0, 1000.0], [1000.0, -1000.0]])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        helper.sigmoid(x)
        helper.softmax(x)
    assert caught == []


def _scaled_inputs(fn, case, ref, inputs=1.0, weights=1.0):
    args = list(testcases.make_inputs(fn, case, ref))
    *arrays, p = args
    return [inputs * a for a in arrays] + [{k: weights * v for k, v in p.items()}]


@pytest.mark.parametrize("what", ["inputs", "weights", "both"])
@pytest.mark.parametrize("case", CASES, ids=case_ids)
@pytest.mark.parametrize("fn", FORWARD)
def test_forward_and_backward_are_silent_on_inputs_scaled_by_1000(ref, fn, case, what):
    scale = {"inputs": (1000.0, 1.0), "weights": (1.0, 1000.0), "both": (1000.0, 1000.0)}[what]
    args = _scaled_inputs(fn, case, ref, *scale)
    backward = getattr(ref, fn.replace("forward", "backward"))
    n_a, m = case[1], case[3]
    if fn in ("rnn_forward", "lstm_forward"):
        upstream = (np.ones((n_a, m, case[4])),)
    else:
        upstream = (np.ones((n_a, m)),) * (2 if fn == "lstm_cell_forward" else 1)
    with silent():
        out = getattr(ref, fn)(*args)
        grads = backward(*upstream, out[-1])
    for value in out[:-1]:
        assert np.all(np.isfinite(value))
    np.testing.assert_allclose(out[PREDICTION[fn]].sum(axis=0), 1.0, rtol=0, atol=1e-12)
    for key, value in grads.items():
        assert np.all(np.isfinite(value)), key


# --- the LSTM memory: forget gate open, update gate closed


N_X, N_A, N_Y, M = 3, 4, 2, 5
STEPS = 200


def _saturated_lstm(seed=0, bf=50.0, bi=-50.0):
    rng = np.random.default_rng(seed)
    p = testcases.random_parameters("lstm", rng, N_X, N_A, N_Y)
    p["bf"] = np.full((N_A, 1), bf)
    p["bi"] = np.full((N_A, 1), bi)
    xs = rng.standard_normal((N_X, M, STEPS))
    a0 = rng.standard_normal((N_A, M))
    c0 = 3 * rng.standard_normal((N_A, M))
    return p, xs, a0, c0


def _chain(module, p, xs, a0, c0):
    a, c = a0, c0
    for t in range(xs.shape[2]):
        a, c = module.lstm_cell_forward(xs[:, :, t], a, c, p)[:2]
    return c


def test_saturated_forget_gate_and_closed_update_gate_keep_the_cell_state(ref):
    p, xs, a0, c0 = _saturated_lstm()
    assert np.min(np.abs(c0)) > 1e-3
    c = _chain(ref, p, xs, a0, c0)
    np.testing.assert_allclose(c, c0, rtol=0, atol=1e-12)


def test_lstm_forward_keeps_a_zero_cell_state_when_saturated(ref):
    p, xs, a0, _ = _saturated_lstm()
    a, _, c, _ = ref.lstm_forward(xs, a0, p)
    assert c.shape == (N_A, M, STEPS)
    assert np.max(np.abs(c)) < 1e-12  # c0 = 0 and nothing is written into the memory
    assert np.max(np.abs(a)) < 1e-12  # a = ot * tanh(c)


def test_the_memory_invariant_has_teeth(ref):
    """The memory is lost when the forget gate is closed, or when the update gate is ignored;
    with the forget gate closed, a missing forget gate shows up as a memory that is kept."""
    variant = {m.label: mistakes.variant(m) for m in mistakes.for_function("lstm_cell_forward")
               if m.label in ("forget_gate_missing", "update_gate_missing")}
    p, xs, a0, c0 = _saturated_lstm(bf=-50.0)
    assert np.max(np.abs(_chain(ref, p, xs, a0, c0) - c0)) > 0.1
    np.testing.assert_allclose(_chain(variant["forget_gate_missing"], p, xs, a0, c0), c0, rtol=0, atol=1e-12)
    p, xs, a0, c0 = _saturated_lstm()
    assert np.max(np.abs(_chain(variant["update_gate_missing"], p, xs, a0, c0) - c0)) > 0.1


# --- inputs are never modified in place


def _same(a, b, where="args"):
    """Exact, recursive equality of nested tuples / lists / dicts / arrays."""
    assert type(a) is type(b), f"{where}: type {type(a).__name__} became {type(b).__name__}"
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, f"{where}: dtype or shape changed"
        assert np.array_equal(a, b), f"{where}: values changed in place"
    elif isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys changed"
        for k in a:
            _same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b), f"{where}: length changed"
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def _arrays(obj):
    if isinstance(obj, np.ndarray):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _arrays(v)
    elif isinstance(obj, (tuple, list)):
        for v in obj:
            yield from _arrays(v)


@pytest.mark.parametrize("case", CASES, ids=case_ids)
@pytest.mark.parametrize("fn", FUNCTIONS)
def test_no_function_modifies_its_inputs(ref, fn, case):
    args = testcases.make_inputs(fn, case, ref)
    before = copy.deepcopy(args)
    getattr(ref, fn)(*args)
    _same(before, args)


@pytest.mark.parametrize("case", CASES, ids=case_ids)
@pytest.mark.parametrize("fn", BACKWARD)
def test_gradients_share_no_memory_with_the_inputs(ref, fn, case):
    """Updating a returned gradient in place cannot corrupt a cache or da."""
    args = testcases.make_inputs(fn, case, ref)
    grads = getattr(ref, fn)(*args)
    inputs = list(_arrays(args))
    for key, g in grads.items():
        assert not any(np.shares_memory(g, x) for x in inputs), key


def test_the_in_place_check_has_teeth():
    args = (np.zeros(3), {"W": np.ones((2, 2))})
    before = copy.deepcopy(args)
    args[1]["W"][0, 0] += 1e-12
    with pytest.raises(AssertionError, match="values changed"):
        _same(before, args)


# --- documented keys and shapes


def _documented_shapes(fn, n_x, n_a, m, T_x):
    gate = {"W": (n_a, n_a + n_x), "b": (n_a, 1)}
    shapes = {
        "dxt": (n_x, m), "da_prev": (n_a, m), "dc_prev": (n_a, m),
        "dx": (n_x, m, T_x), "da0": (n_a, m),
        "dWax": (n_a, n_x), "dWaa": (n_a, n_a), "dba": (n_a, 1),
        **{p + g: gate[p[-1]] for g in "fico" for p in ("dW", "db")},
    }
    return {k: shapes[k] for k in testcases.OUTPUTS[fn]}


@pytest.mark.parametrize("case", CASES, ids=case_ids)
@pytest.mark.parametrize("fn", BACKWARD)
def test_gradient_dicts_have_exactly_the_documented_keys_and_shapes(ref, fn, case):
    n_x, n_a, _, m, T_x, _ = case
    grads = _call(ref, fn, case)
    assert type(grads) is dict
    expected = _documented_shapes(fn, n_x, n_a, m, T_x)
    assert set(grads) == set(expected)
    for key, shape in expected.items():
        assert type(grads[key]) is np.ndarray and grads[key].dtype == np.float64, key
        assert grads[key].shape == shape, (key, grads[key].shape, shape)


@pytest.mark.parametrize("case", CASES, ids=case_ids)
@pytest.mark.parametrize("fn", FORWARD)
def test_forward_outputs_have_the_documented_shapes_and_caches(ref, fn, case):
    n_x, n_a, n_y, m, T_x, _ = case
    args = testcases.make_inputs(fn, case, ref)
    out = getattr(ref, fn)(*args)
    assert type(out) is tuple and len(out) == len(testcases.OUTPUTS[fn])
    seq = fn in ("rnn_forward", "lstm_forward")
    tail = (m, T_x) if seq else (m,)
    want = {"a_next": n_a, "a": n_a, "c_next": n_a, "c": n_a, "yt_pred": n_y, "y_pred": n_y, "y": n_y}
    for name, value in zip(testcases.OUTPUTS[fn], out):
        if name in want:
            assert value.shape == (want[name], *tail), (name, value.shape)
    size = 4 if fn.startswith("rnn") else 10
    if seq:
        cell_caches, x = out[-1]
        assert type(cell_caches) is list and len(cell_caches) == T_x
        assert x is args[0]
        assert all(type(c) is tuple and len(c) == size and c[-1] is args[-1] for c in cell_caches)
    else:
        cache = out[-1]
        assert type(cache) is tuple and len(cache) == size and cache[-1] is args[-1]
