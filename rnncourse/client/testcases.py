"""The graded contract of the eight functions: arguments, outputs, test cases.

Student outputs are turned into plain float64 arrays here (with type and shape
checks first); the same normalisation is applied to the reference outputs, so
the two are compared like for like.
"""

import numpy as np

ARGS = {
    "rnn_cell_forward": ("xt", "a_prev", "parameters"),
    "rnn_forward": ("x", "a0", "parameters"),
    "rnn_cell_backward": ("da_next", "cache"),
    "rnn_backward": ("da", "caches"),
    "lstm_cell_forward": ("xt", "a_prev", "c_prev", "parameters"),
    "lstm_forward": ("x", "a0", "parameters"),
    "lstm_cell_backward": ("da_next", "dc_next", "cache"),
    "lstm_backward": ("da", "caches"),
}

OUTPUTS = {
    "rnn_cell_forward": ("a_next", "yt_pred", "cache"),
    "rnn_forward": ("a", "y_pred", "caches"),
    "rnn_cell_backward": ("dxt", "da_prev", "dWax", "dWaa", "dba"),
    "rnn_backward": ("dx", "da0", "dWax", "dWaa", "dba"),
    "lstm_cell_forward": ("a_next", "c_next", "yt_pred", "cache"),
    "lstm_forward": ("a", "y", "c", "caches"),
    "lstm_cell_backward": ("dxt", "da_prev", "dc_prev", "dWf", "dbf", "dWi", "dbi",
                           "dWc", "dbc", "dWo", "dbo"),
    "lstm_backward": ("dx", "da0", "dWf", "dbf", "dWi", "dbi", "dWc", "dbc", "dWo", "dbo"),
}

# A sequence function is graded with the reference cell in place of the student's.
DEPENDS = {
    "rnn_forward": "rnn_cell_forward",
    "rnn_backward": "rnn_cell_backward",
    "lstm_forward": "lstm_cell_forward",
    "lstm_backward": "lstm_cell_backward",
}

# Points of each function's hidden test cell, split equally among its outputs.
POINTS = {
    "rnn_cell_forward": 10,
    "rnn_forward": 10,
    "rnn_cell_backward": 15,
    "rnn_backward": 15,
    "lstm_cell_forward": 10,
    "lstm_forward": 10,
    "lstm_cell_backward": 15,
    "lstm_backward": 15,
}

# Test cases: (n_x, n_a, n_y, m, T_x, seed). They include m = 1, T_x = 1 and
# n_x = n_a (so that a swapped Wax/Waa would not fail on shapes alone).
CASES = (
    (3, 5, 2, 10, 4, 1),
    (4, 4, 3, 1, 1, 2),
    (2, 3, 4, 6, 7, 3),
)

# |got - expected| <= ATOL + RTOL * |expected|, elementwise.
RTOL = 1e-6
ATOL = 1e-8

RNN_PARAMS = {"Wax": "ax", "Waa": "aa", "Wya": "ya", "ba": "a1", "by": "y1"}
LSTM_PARAMS = {**{f"{k}{g}": s for g in "fico" for k, s in (("W", "ac"), ("b", "a1"))},
               "Wy": "ya", "by": "y1"}


def _dims(n_x, n_a, n_y):
    return {"a": n_a, "x": n_x, "y": n_y, "c": n_a + n_x, "1": 1}


def random_parameters(kind, rng, n_x, n_a, n_y):
    """Standard-normal parameters of an ``"rnn"`` or ``"lstm"``."""
    dims = _dims(n_x, n_a, n_y)
    table = RNN_PARAMS if kind == "rnn" else LSTM_PARAMS
    return {k: rng.standard_normal((dims[s[0]], dims[s[1]])) for k, s in table.items()}


def make_inputs(fn, case, ref):
    """Arguments of ``fn`` for ``case``; backward caches come from ``ref``."""
    n_x, n_a, n_y, m, T_x, seed = case
    rng = np.random.default_rng(seed)
    kind = "lstm" if fn.startswith("lstm") else "rnn"
    p = random_parameters(kind, rng, n_x, n_a, n_y)
    xt, a_prev, c_prev = (rng.standard_normal((n, m)) for n in (n_x, n_a, n_a))
    x = rng.standard_normal((n_x, m, T_x))
    da_next, dc_next = rng.standard_normal((n_a, m)), rng.standard_normal((n_a, m))
    da = rng.standard_normal((n_a, m, T_x))
    if fn == "rnn_cell_forward":
        return (xt, a_prev, p)
    if fn == "rnn_forward" or fn == "lstm_forward":
        return (x, a_prev, p)
    if fn == "lstm_cell_forward":
        return (xt, a_prev, c_prev, p)
    if fn == "rnn_cell_backward":
        return (da_next, ref.rnn_cell_forward(xt, a_prev, p)[-1])
    if fn == "rnn_backward":
        return (da, ref.rnn_forward(x, a_prev, p)[-1])
    if fn == "lstm_cell_backward":
        return (da_next, dc_next, ref.lstm_cell_forward(xt, a_prev, c_prev, p)[-1])
    if fn == "lstm_backward":
        return (da, ref.lstm_forward(x, a_prev, p)[-1])
    raise KeyError(fn)


class OutputError(Exception):
    """A student output has the wrong type, structure or shape."""


def as_array(value, what, shape=None):
    """A plain float64 copy of ``value``; only exact ``numpy.ndarray`` is accepted."""
    if type(value) is not np.ndarray:
        raise OutputError(f"{what} must be a numpy ndarray, got {type(value).__name__}")
    if value.dtype.kind not in "biuf":
        raise OutputError(f"{what} must hold real numbers, got dtype {value.dtype}")
    arr = np.array(value, dtype=np.float64, copy=True)
    if shape is not None and arr.shape != tuple(shape):
        raise OutputError(f"{what} has shape {arr.shape}, expected {tuple(shape)}")
    return arr


def _flat_cache(cache, n_arrays, what):
    """Arrays of one cell cache (without the parameters), raveled and joined."""
    if type(cache) not in (tuple, list) or len(cache) != n_arrays + 1:
        raise OutputError(f"{what} must be a tuple of {n_arrays + 1} items")
    if type(cache[-1]) is not dict:
        raise OutputError(f"the last item of {what} must be the parameters dict")
    return np.concatenate([as_array(c, f"{what}[{i}]").ravel() for i, c in enumerate(cache[:-1])])


def _flat_caches(caches, n_arrays):
    if type(caches) not in (tuple, list) or len(caches) != 2 or type(caches[0]) is not list:
        raise OutputError("caches must be the tuple (list of cell caches, x)")
    parts = [_flat_cache(c, n_arrays, f"caches[0][{t}]") for t, c in enumerate(caches[0])]
    parts.append(as_array(caches[1], "caches[1] (x)").ravel())
    return np.concatenate(parts)


def normalise(fn, result, shapes=None):
    """Map each output name of ``fn`` to a float64 array, or to an OutputError.

    ``shapes`` (output name -> expected shape) turns shape mismatches into
    errors; the reference's own outputs are normalised with ``shapes=None``.
    """
    names = OUTPUTS[fn]
    shapes = shapes or {}
    out = {}
    if fn.endswith("backward"):
        if type(result) is not dict:
            err = OutputError(f"{fn} must return a dict, got {type(result).__name__}")
            return {k: err for k in names}
        for k in names:
            try:
                if k not in result:
                    raise OutputError(f"key {k!r} is missing from the returned dict")
                out[k] = as_array(result[k], k, shapes.get(k))
            except OutputError as err:
                out[k] = err
        return out
    if type(result) not in (tuple, list) or len(result) != len(names):
        err = OutputError(f"{fn} must return a tuple ({', '.join(names)}), "
                          f"got {type(result).__name__}"
                          + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else ""))
        return {k: err for k in names}
    n_arrays = 3 if fn.startswith("rnn") else 9
    for k, v in zip(names, result):
        try:
            if k == "cache":
                arr = _flat_cache(v, n_arrays, "cache")
            elif k == "caches":
                arr = _flat_caches(v, n_arrays)
            else:
                arr = as_array(v, k)
            if k in shapes and arr.shape != tuple(shapes[k]):
                what = "the arrays in " + k if k.startswith("cache") else k
                raise OutputError(f"{what} hold {arr.size} numbers in all, expected "
                                  f"{int(np.prod(shapes[k]))}" if k.startswith("cache")
                                  else f"{what} has shape {arr.shape}, expected {tuple(shapes[k])}")
            out[k] = arr
        except OutputError as err:
            out[k] = err
    return out


def matches(got, expected):
    """True where ``got`` equals ``expected`` within the stated tolerance."""
    return got.shape == expected.shape and bool(
        np.all(np.abs(got - expected) <= ATOL + RTOL * np.abs(expected)))
