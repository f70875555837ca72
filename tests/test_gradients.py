"""Centred finite differences against the four backward functions.

Three layers:

* an independent centred-difference check written here, strict (relative error
  below 1e-7 for every gradient key) on fixed shapes with standard-normal
  weights;
* the released helper ``rnn_utils.gradient_check`` (what students run): it must
  pass the reference and flag wrong backward passes with a large error;
* property-based tests (hypothesis, derandomised) over shapes and weight scales.

Run this file as a script to print the largest relative error per function.
"""

import io
from contextlib import redirect_stdout

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnncourse.client import testcases
from rnncourse.content import mistakes, reference

H = 1e-5
RTOL = 1e-7
EPS = np.finfo(np.float64).eps
# (n_x, n_a, n_y, m, T_x): includes m = 1, T_x = 1 and all-ones.
SHAPES = [(3, 5, 2, 10, 4), (1, 1, 1, 1, 1), (4, 3, 2, 1, 6), (2, 6, 3, 5, 1), (3, 5, 2, 4, 3)]
PAIRS = {
    "rnn_cell": ("rnn_cell_forward", "rnn_cell_backward"),
    "rnn": ("rnn_forward", "rnn_backward"),
    "lstm_cell": ("lstm_cell_forward", "lstm_cell_backward"),
    "lstm": ("lstm_forward", "lstm_backward"),
}
KINDS = list(PAIRS)

helper = reference.helper_module()


def centred_difference(loss, arr, h=H):
    """d loss / d arr by centred differences; ``arr`` is perturbed in place and restored."""
    grad = np.zeros_like(arr)
    for i in np.ndindex(arr.shape):
        old = arr[i]
        arr[i] = old + h
        plus = loss()
        arr[i] = old - h
        minus = loss()
        arr[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad


def relative_error(a, b):
    scale = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if scale == 0 else float(np.linalg.norm(a - b) / scale)


def problem(ref, kind, shape, scale=1.0, seed=0):
    """Inputs for one check.

    Returns
    -------
    terms : callable
        No argument; the terms whose sum is the loss, i.e. ``a * da`` (and
        ``c_next * dc`` for one LSTM cell), recomputed from the current inputs.
    grads : dict
        The backward function's gradient dict at the unperturbed inputs.
    arrays : dict
        Gradient key -> the input array it differentiates (every key of the
        backward dict: the output layer Wya/Wy, by is not back-propagated).
    """
    n_x, n_a, n_y, m, T_x = shape
    rng = np.random.default_rng(seed)
    p = {k: scale * v for k, v in
         testcases.random_parameters(kind.split("_")[0], rng, n_x, n_a, n_y).items()}
    seq = kind in ("rnn", "lstm")
    x = rng.standard_normal((n_x, m, T_x) if seq else (n_x, m))
    a0 = rng.standard_normal((n_a, m))
    c0 = rng.standard_normal((n_a, m))
    da = rng.standard_normal((n_a, m, T_x) if seq else (n_a, m))
    dc = rng.standard_normal((n_a, m))
    forward, backward = (getattr(ref, f) for f in PAIRS[kind])
    if kind == "lstm_cell":
        def terms():
            a_next, c_next = forward(x, a0, c0, p)[:2]
            return np.concatenate([(a_next * da).ravel(), (c_next * dc).ravel()])
        grads = backward(da, dc, forward(x, a0, c0, p)[-1])
        arrays = {"dxt": x, "da_prev": a0, "dc_prev": c0}
    else:
        def terms():
            return (forward(x, a0, p)[0] * da).ravel()
        grads = backward(da, forward(x, a0, p)[-1])
        arrays = {"dx": x, "da0": a0} if seq else {"dxt": x, "da_prev": a0}
    arrays.update({"d" + k: v for k, v in p.items() if k not in ("Wya", "Wy", "by")})
    assert set(arrays) == set(testcases.OUTPUTS[PAIRS[kind][1]])
    return terms, grads, arrays


def compare(ref, kind, shape, scale=1.0, seed=0):
    """{key: (relative error, ||ana - num||, rounding floor, ||ana|| + ||num||)} for every gradient key.

    The rounding floor is what centred differences cannot resolve: each loss
    value carries a rounding error of about eps * sum|terms|, divided by h in
    the difference quotient, over sqrt(size) entries.
    """
    terms, grads, arrays = problem(ref, kind, shape, scale, seed)
    floor_per_entry = EPS * np.sum(np.abs(terms())) / H

    def loss():
        return np.sum(terms())

    out = {}
    for key, arr in arrays.items():
        num = centred_difference(loss, arr)
        ana = grads[key]
        assert ana.shape == num.shape, (key, ana.shape, num.shape)
        norms = float(np.linalg.norm(ana) + np.linalg.norm(num))
        out[key] = (relative_error(ana, num), float(np.linalg.norm(ana - num)),
                    float(np.sqrt(arr.size) * floor_per_entry), norms)
    return out


# --- strict: fixed shapes, standard-normal weights, relative error < 1e-7


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("kind", KINDS)
def test_backward_matches_centred_differences(ref, kind, shape):
    errors = {k: v[0] for k, v in compare(ref, kind, shape, seed=sum(shape)).items()}
    bad = {k: v for k, v in errors.items() if not v < RTOL}
    assert not bad, f"{kind} {shape}: relative error >= {RTOL}: {bad}"


def test_the_finite_difference_check_has_teeth(ref):
    """A backward pass with the tanh derivative dropped fails this file's own check."""
    (wrong,) = [m for m in mistakes.MISTAKES if m.label == "tanh_derivative_missing"]
    errors = compare(mistakes.variant(wrong), "rnn_cell", SHAPES[0], seed=1)
    assert min(v[0] for v in errors.values()) > 1e-2


# --- the released helper gradient_check


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("kind", KINDS)
def test_helper_gradient_check_passes_the_reference(ref, kind, shape):
    forward, backward = (getattr(ref, f) for f in PAIRS[kind])
    errors = helper.gradient_check(kind, forward, backward, seed=sum(shape), shape=shape, verbose=False)
    assert set(errors) == set(testcases.OUTPUTS[PAIRS[kind][1]]), "gradient_check skipped a key"
    bad = {k: v for k, v in errors.items() if not v < RTOL}
    assert not bad, f"{kind} {shape}: {bad}"


def test_helper_gradient_check_prints_a_verdict_per_key(ref):
    out = io.StringIO()
    with redirect_stdout(out):
        errors = helper.gradient_check("lstm", ref.lstm_forward, ref.lstm_backward)
    lines = out.getvalue().splitlines()
    assert len(lines) == len(errors) == len(testcases.OUTPUTS["lstm_backward"])
    assert all(line.rstrip().endswith("ok") for line in lines), lines


BACKWARD_MISTAKES = [m for m in mistakes.MISTAKES if m.fn.endswith("_backward")]


@pytest.mark.parametrize("mistake", BACKWARD_MISTAKES, ids=lambda m: f"{m.fn}-{m.label}")
def test_helper_gradient_check_flags_every_backward_mistake(mistake):
    kind = mistake.fn.rsplit("_", 1)[0]
    variant = mistakes.variant(mistake)
    out = io.StringIO()
    with redirect_stdout(out):
        errors = helper.gradient_check(kind, *(getattr(variant, f) for f in PAIRS[kind]))
    assert max(errors.values()) > 1e-2, errors
    assert "CHECK THIS" in out.getvalue()


def test_helper_gradient_check_flags_a_scaled_gradient(ref):
    def backward(da_next, cache):
        grads = ref.rnn_cell_backward(da_next, cache)
        return {**grads, "dWax": 2 * grads["dWax"]}

    errors = helper.gradient_check("rnn_cell", ref.rnn_cell_forward, backward, verbose=False)
    # ||2g - g|| / (||2g|| + ||g||) = 1/3 exactly, up to the finite-difference error
    assert errors["dWax"] == pytest.approx(1 / 3, abs=1e-6)
    assert max(v for k, v in errors.items() if k != "dWax") < RTOL


def test_helper_gradient_check_reports_a_missing_key(ref):
    def backward(da, caches):
        grads = ref.lstm_backward(da, caches)
        return {k: v for k, v in grads.items() if k != "dbo"}

    out = io.StringIO()
    with redirect_stdout(out):
        errors = helper.gradient_check("lstm", ref.lstm_forward, backward)
    assert errors["dbo"] == float("inf")
    assert "dbo: MISSING" in out.getvalue()


def test_helper_gradient_check_rejects_an_unknown_kind(ref):
    with pytest.raises(ValueError, match="kind must be one of"):
        helper.gradient_check("gru", ref.rnn_forward, ref.rnn_backward)


def test_helper_numerical_gradient_restores_its_input():
    x = np.arange(6.0).reshape(2, 3)
    before = x.copy()
    grad = helper.numerical_gradient(lambda: x ** 3, x, np.ones_like(x))
    np.testing.assert_array_equal(x, before)
    np.testing.assert_allclose(grad, 3 * before ** 2, rtol=1e-8, atol=1e-8)


def test_helper_relative_error():
    assert helper.relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert helper.relative_error(np.ones(4), np.ones(4)) == 0.0
    assert helper.relative_error(np.ones(4), -np.ones(4)) == pytest.approx(1.0)


# --- property-based: any shape, weight scales 0.1 .. 3
#
# With large weights tanh and the gates saturate and some gradients become tiny
# (1e-9 and below); there centred differences are dominated by rounding and a
# relative error says nothing. The criterion is therefore the usual
# "rtol + atol" one: ||analytic - numeric|| <= 1e-7 (||analytic|| + ||numeric||)
# + the rounding floor of the difference quotient (see ``compare``). Wherever
# the gradients are well above that floor this is the relative-error test.

PROPERTY_SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, database=None)
dims = st.integers(1, 5)


@pytest.mark.parametrize("kind", KINDS)
@PROPERTY_SETTINGS
@given(n_x=dims, n_a=dims, n_y=dims, m=dims, T_x=st.integers(1, 6),
       scale=st.floats(0.1, 3.0), seed=st.integers(0, 2**32 - 1))
def test_finite_differences_agree_for_any_shape_and_scale(ref, kind, n_x, n_a, n_y, m, T_x, scale, seed):
    shape = (n_x, n_a, n_y, m, T_x)
    for key, (rel, diff, floor, norms) in compare(ref, kind, shape, scale, seed).items():
        assert diff <= RTOL * norms + floor, \
            f"{kind} {shape} scale {scale:.3g} seed {seed}: {key} relative error {rel:.2e}, " \
            f"|diff| {diff:.2e} above rtol*norms {RTOL * norms:.1e} + rounding floor {floor:.1e}"


@pytest.mark.parametrize("kind", KINDS)
@PROPERTY_SETTINGS
@given(n_x=dims, n_a=dims, n_y=dims, m=dims, T_x=st.integers(1, 6), seed=st.integers(0, 2**32 - 1))
def test_helper_gradient_check_covers_every_key_for_any_shape(ref, kind, n_x, n_a, n_y, m, T_x, seed):
    shape = (n_x, n_a, n_y, m, T_x)
    forward, backward = (getattr(ref, f) for f in PAIRS[kind])
    errors = helper.gradient_check(kind, forward, backward, seed=seed, shape=shape, verbose=False)
    assert set(errors) == set(testcases.OUTPUTS[PAIRS[kind][1]])
    # Standard-normal weights rarely saturate a unit; when one does, a tiny
    # gradient of a small array may exceed 1e-7 (see the report), never 1e-4.
    assert max(errors.values()) < 1e-4, errors


if __name__ == "__main__":
    ref = reference.load()
    for kind, (_, backward) in PAIRS.items():
        ours = max((v[0], k, s) for s in SHAPES for k, v in compare(ref, kind, s, seed=sum(s)).items())
        theirs = max((e, k, s) for s in SHAPES for k, e in helper.gradient_check(
            kind, *(getattr(ref, f) for f in PAIRS[kind]), seed=sum(s), shape=s, verbose=False).items())
        print(f"{backward:>18}: largest relative error {ours[0]:.2e} ({ours[1]}, shape {ours[2]}); "
              f"gradient_check {theirs[0]:.2e} ({theirs[1]}, shape {theirs[2]})")
