"""PyTorch as an independent oracle for the eight reference functions.

``torch.nn.RNN``/``RNNCell`` and ``torch.nn.LSTM``/``LSTMCell`` in float64, with
our parameters copied into their weights, must give the same forward outputs;
torch autograd of ``sum(a * da)`` (plus ``sum(c_next * dc)`` for one LSTM cell)
must give the same value for every key of every backward dict. Tolerance: max
abs error 1e-10.

Layout mapping (ours -> torch):

* arrays: ours are (features, m) or (features, m, T_x); torch's are (m, features)
  or (T_x, m, features), so we transpose.
* RNN: weight_ih = Wax, weight_hh = Waa, bias_ih = ba, bias_hh = 0.
* LSTM: torch stacks its gates in the order (i, f, g, o) = our (Wi, Wf, Wc, Wo).
  Our gate weights act on [a_prev; xt], so their first n_a columns form torch's
  weight_hh and the remaining n_x columns its weight_ih; bias_ih stacks
  (bi, bf, bc, bo) and bias_hh = 0.

Run this file as a script to print the largest error per function.
"""

import numpy as np
import pytest
import torch

from rnncourse.client import testcases
from rnncourse.content import mistakes, reference

TOL = 1e-10
F64 = torch.float64
# (n_x, n_a, n_y, m, T_x): includes m = 1, T_x = 1 and all-ones.
SHAPES = [(3, 5, 2, 10, 4), (1, 1, 1, 1, 1), (4, 3, 2, 1, 6), (2, 6, 3, 5, 1)]
TORCH_GATES = "ifco"  # torch's gate blocks (i, f, g, o) in our letters


def _t(array, grad=False):
    """float64 torch copy of a numpy array."""
    return torch.tensor(np.ascontiguousarray(array), dtype=F64, requires_grad=grad)


def _np(tensor):
    return tensor.detach().numpy()


def _seq_to_torch(arr, grad=False):
    """(features, m, T_x) -> torch (T_x, m, features)."""
    return _t(arr.transpose(2, 1, 0), grad)


def _seq_from_torch(tensor):
    """torch (T_x, m, features) -> (features, m, T_x)."""
    return _np(tensor).transpose(2, 1, 0)


def _set_rnn_weights(module, p, suffix=""):
    with torch.no_grad():
        getattr(module, "weight_ih" + suffix).copy_(_t(p["Wax"]))
        getattr(module, "weight_hh" + suffix).copy_(_t(p["Waa"]))
        getattr(module, "bias_ih" + suffix).copy_(_t(p["ba"][:, 0]))
        getattr(module, "bias_hh" + suffix).zero_()


def _set_lstm_weights(module, p, n_a, suffix=""):
    with torch.no_grad():
        getattr(module, "weight_hh" + suffix).copy_(
            _t(np.vstack([p["W" + g][:, :n_a] for g in TORCH_GATES])))
        getattr(module, "weight_ih" + suffix).copy_(
            _t(np.vstack([p["W" + g][:, n_a:] for g in TORCH_GATES])))
        getattr(module, "bias_ih" + suffix).copy_(
            _t(np.concatenate([p["b" + g][:, 0] for g in TORCH_GATES])))
        getattr(module, "bias_hh" + suffix).zero_()


def _rnn_param_grads(module, suffix=""):
    return {
        "dWax": _np(getattr(module, "weight_ih" + suffix).grad),
        "dWaa": _np(getattr(module, "weight_hh" + suffix).grad),
        "dba": _np(getattr(module, "bias_ih" + suffix).grad)[:, None],
    }


def _lstm_param_grads(module, n_a, suffix=""):
    """Torch's stacked weight/bias gradients, split back into our gate keys."""
    g_ih = _np(getattr(module, "weight_ih" + suffix).grad)
    g_hh = _np(getattr(module, "weight_hh" + suffix).grad)
    g_b = _np(getattr(module, "bias_ih" + suffix).grad)
    out = {}
    for j, g in enumerate(TORCH_GATES):
        rows = slice(j * n_a, (j + 1) * n_a)
        out["dW" + g] = np.hstack([g_hh[rows], g_ih[rows]])
        out["db" + g] = g_b[rows][:, None]
    return out


def _softmax_classes(logits):
    """Softmax over the class axis (the last axis in torch's layout)."""
    return torch.softmax(logits, dim=-1)


def _problem(kind, shape, seed):
    n_x, n_a, n_y, m, T_x = shape
    rng = np.random.default_rng(seed)
    p = testcases.random_parameters(kind, rng, n_x, n_a, n_y)
    return {
        "p": p,
        "xt": rng.standard_normal((n_x, m)),
        "x": rng.standard_normal((n_x, m, T_x)),
        "a_prev": rng.standard_normal((n_a, m)),
        "c_prev": rng.standard_normal((n_a, m)),
        "da_next": rng.standard_normal((n_a, m)),
        "dc_next": rng.standard_normal((n_a, m)),
        "da": rng.standard_normal((n_a, m, T_x)),
    }


def _errors(ours, theirs):
    """Max abs error per key; the two dicts must have the same keys and shapes."""
    assert set(ours) == set(theirs), (sorted(ours), sorted(theirs))
    out = {}
    for k in theirs:
        assert np.shape(ours[k]) == np.shape(theirs[k]), (k, np.shape(ours[k]), np.shape(theirs[k]))
        out[k] = float(np.max(np.abs(np.asarray(ours[k]) - theirs[k])))
    return out


# --- one function pair against torch, returning {output or gradient key: max abs error}


def rnn_cell_errors(ref, shape, seed):
    n_x, n_a = shape[:2]
    d = _problem("rnn", shape, seed)
    p = d["p"]
    a_next, yt_pred, cache = ref.rnn_cell_forward(d["xt"], d["a_prev"], p)
    grads = ref.rnn_cell_backward(d["da_next"], cache)

    cell = torch.nn.RNNCell(n_x, n_a, nonlinearity="tanh", dtype=F64)
    _set_rnn_weights(cell, p)
    xt, h = _t(d["xt"].T, True), _t(d["a_prev"].T, True)
    h_next = cell(xt, h)
    y = _softmax_classes(h_next @ _t(p["Wya"]).T + _t(p["by"][:, 0]))
    (h_next * _t(d["da_next"].T)).sum().backward()
    torch_grads = {"dxt": _np(xt.grad).T, "da_prev": _np(h.grad).T, **_rnn_param_grads(cell)}

    return {**_errors({"a_next": a_next, "yt_pred": yt_pred},
                      {"a_next": _np(h_next).T, "yt_pred": _np(y).T}),
            **_errors(grads, torch_grads)}


def rnn_errors(ref, shape, seed):
    n_x, n_a = shape[:2]
    d = _problem("rnn", shape, seed)
    p = d["p"]
    a, y_pred, caches = ref.rnn_forward(d["x"], d["a_prev"], p)
    grads = ref.rnn_backward(d["da"], caches)

    rnn = torch.nn.RNN(n_x, n_a, nonlinearity="tanh", dtype=F64)
    _set_rnn_weights(rnn, p, "_l0")
    x, h0 = _seq_to_torch(d["x"], True), _t(d["a_prev"].T[None], True)
    out, h_last = rnn(x, h0)
    y = _softmax_classes(out @ _t(p["Wya"]).T + _t(p["by"][:, 0]))
    (out * _seq_to_torch(d["da"])).sum().backward()
    torch_grads = {"dx": _seq_from_torch(x.grad), "da0": _np(h0.grad)[0].T, **_rnn_param_grads(rnn, "_l0")}

    return {**_errors({"a": a, "y_pred": y_pred, "a_last": a[:, :, -1]},
                      {"a": _seq_from_torch(out), "y_pred": _seq_from_torch(y), "a_last": _np(h_last)[0].T}),
            **_errors(grads, torch_grads)}


def lstm_cell_errors(ref, shape, seed):
    n_x, n_a = shape[:2]
    d = _problem("lstm", shape, seed)
    p = d["p"]
    a_next, c_next, yt_pred, cache = ref.lstm_cell_forward(d["xt"], d["a_prev"], d["c_prev"], p)
    grads = ref.lstm_cell_backward(d["da_next"], d["dc_next"], cache)

    cell = torch.nn.LSTMCell(n_x, n_a, dtype=F64)
    _set_lstm_weights(cell, p, n_a)
    xt, h, c = (_t(d[k].T, True) for k in ("xt", "a_prev", "c_prev"))
    h_next, c_n = cell(xt, (h, c))
    y = _softmax_classes(h_next @ _t(p["Wy"]).T + _t(p["by"][:, 0]))
    ((h_next * _t(d["da_next"].T)).sum() + (c_n * _t(d["dc_next"].T)).sum()).backward()
    torch_grads = {"dxt": _np(xt.grad).T, "da_prev": _np(h.grad).T, "dc_prev": _np(c.grad).T,
                   **_lstm_param_grads(cell, n_a)}

    return {**_errors({"a_next": a_next, "c_next": c_next, "yt_pred": yt_pred},
                      {"a_next": _np(h_next).T, "c_next": _np(c_n).T, "yt_pred": _np(y).T}),
            **_errors(grads, torch_grads)}


def lstm_errors(ref, shape, seed):
    n_x, n_a, _, m, T_x = shape
    d = _problem("lstm", shape, seed)
    p = d["p"]
    a, y_ours, c, caches = ref.lstm_forward(d["x"], d["a_prev"], p)
    grads = ref.lstm_backward(d["da"], caches)

    lstm = torch.nn.LSTM(n_x, n_a, dtype=F64)
    _set_lstm_weights(lstm, p, n_a, "_l0")
    x, h0 = _seq_to_torch(d["x"], True), _t(d["a_prev"].T[None], True)
    c0 = torch.zeros((1, m, n_a), dtype=F64)
    out, (h_last, c_last) = lstm(x, (h0, c0))
    y = _softmax_classes(out @ _t(p["Wy"]).T + _t(p["by"][:, 0]))
    (out * _seq_to_torch(d["da"])).sum().backward()
    torch_grads = {"dx": _seq_from_torch(x.grad), "da0": _np(h0.grad)[0].T,
                   **_lstm_param_grads(lstm, n_a, "_l0")}

    # nn.LSTM returns only the last cell state: chain an LSTMCell for all of them.
    cell = torch.nn.LSTMCell(n_x, n_a, dtype=F64)
    _set_lstm_weights(cell, p, n_a)
    h, cs = h0[0], c0[0]
    c_all = []
    with torch.no_grad():
        for t in range(T_x):
            h, cs = cell(x[t], (h, cs))
            c_all.append(_np(cs).T)

    return {**_errors({"a": a, "y": y_ours, "c": c, "c_last": c[:, :, -1], "a_last": a[:, :, -1]},
                      {"a": _seq_from_torch(out), "y": _seq_from_torch(y), "c": np.stack(c_all, axis=2),
                       "c_last": _np(c_last)[0].T, "a_last": _np(h_last)[0].T}),
            **_errors(grads, torch_grads)}


ORACLES = {"rnn_cell": rnn_cell_errors, "rnn": rnn_errors,
           "lstm_cell": lstm_cell_errors, "lstm": lstm_errors}
BACKWARD = {"rnn_cell": "rnn_cell_backward", "rnn": "rnn_backward",
            "lstm_cell": "lstm_cell_backward", "lstm": "lstm_backward"}
FORWARD_OUTPUTS = {"rnn_cell": {"a_next", "yt_pred"}, "rnn": {"a", "y_pred", "a_last"},
                   "lstm_cell": {"a_next", "c_next", "yt_pred"},
                   "lstm": {"a", "y", "c", "c_last", "a_last"}}


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("kind", list(ORACLES))
def test_matches_torch(ref, kind, shape):
    errors = ORACLES[kind](ref, shape, seed=sum(shape))
    # Every forward output and every key of the backward dict was compared.
    assert set(errors) == FORWARD_OUTPUTS[kind] | set(testcases.OUTPUTS[BACKWARD[kind]])
    bad = {k: v for k, v in errors.items() if not v <= TOL}
    assert not bad, f"{kind} {shape}: max abs error above {TOL}: {bad}"


def test_oracle_mapping_is_not_vacuous(ref):
    """A swapped gate block or a missing transpose must break the agreement."""
    shape = SHAPES[0]
    n_a = shape[1]
    d = _problem("lstm", shape, 0)
    p = d["p"]
    a_next = ref.lstm_cell_forward(d["xt"], d["a_prev"], d["c_prev"], p)[0]
    cell = torch.nn.LSTMCell(shape[0], n_a, dtype=F64)
    swapped = {**p, "Wi": p["Wf"], "Wf": p["Wi"], "bi": p["bf"], "bf": p["bi"]}
    _set_lstm_weights(cell, swapped, n_a)
    h_next, _ = cell(_t(d["xt"].T), (_t(d["a_prev"].T), _t(d["c_prev"].T)))
    assert np.max(np.abs(_np(h_next).T - a_next)) > 1e-3


@pytest.mark.parametrize("mistake", mistakes.MISTAKES, ids=lambda m: f"{m.fn}-{m.label}")
def test_oracle_rejects_every_catalogued_mistake(mistake):
    """The comparison has teeth: each typical mistake moves some output far from torch."""
    kind = mistake.fn.rsplit("_", 1)[0]
    errors = ORACLES[kind](mistakes.variant(mistake), SHAPES[0], seed=sum(SHAPES[0]))
    assert max(errors.values()) > 1e-6, errors


def max_errors(ref=None):
    """{kind: largest max abs error over SHAPES and all keys}."""
    ref = ref or reference.load()
    return {kind: max(max(fn(ref, s, seed=sum(s)).values()) for s in SHAPES) for kind, fn in ORACLES.items()}


if __name__ == "__main__":
    worst = max_errors()
    for kind, err in worst.items():
        print(f"{kind:>10}: max abs error vs torch {err:.3e}")
    print(f"{'overall':>10}: {max(worst.values()):.3e}")
