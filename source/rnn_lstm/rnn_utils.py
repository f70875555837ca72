"""Helpers released with the ``rnn_lstm`` assignment.

Nothing here is graded and nothing here solves the assignment: stable
activation functions, a numerical gradient check that you can point at your
own backward passes, and plots of hidden states and LSTM gates over time.
"""

import io
import linecache
import os
import re
import sys

import numpy as np

__all__ = [
    "sigmoid",
    "softmax",
    "numerical_gradient",
    "relative_error",
    "gradient_check",
    "plot_rnn_states",
    "plot_lstm_gates",
    "self_check",
    "SelfCheckFailed",
]


def sigmoid(x):
    r"""Logistic function, computed without overflow.

    Parameters
    ----------
    x : ndarray, any shape

    Returns
    -------
    s : ndarray, same shape as ``x``, entries in [0, 1]

    Notes
    -----
    .. math:: \sigma(x) = \frac{1}{1 + e^{-x}} = \frac{1 + \tanh(x / 2)}{2}

    The second form is an identity and needs no exponential that could
    overflow, so inputs of any magnitude (``-1000`` included) give no warning;
    it is also a single NumPy function, several times faster on small arrays.
    Its error is below ``1.2e-16`` in absolute terms (outputs smaller than
    that, for ``x < -37``, come out as 0).
    """
    x = np.asarray(x, dtype=np.float64)
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def softmax(x):
    r"""Softmax over axis 0: over the classes, separately for each example.

    Parameters
    ----------
    x : ndarray, shape (n_y, m)

    Returns
    -------
    p : ndarray, shape (n_y, m); every column sums to 1

    Notes
    -----
    .. math:: \mathrm{softmax}(x)_i = \frac{e^{x_i - \max_j x_j}}{\sum_k e^{x_k - \max_j x_j}}

    Subtracting the column maximum changes nothing mathematically and keeps
    every exponent at most 0, so large inputs do not overflow.
    """
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(x - x.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


# ---------------------------------------------------------------------------
# Gradient checking
# ---------------------------------------------------------------------------


def numerical_gradient(f, x, df, h=1e-5):
    r"""Centred-difference gradient of :math:`L = \sum f() \odot df` w.r.t. ``x``.

    Parameters
    ----------
    f : callable
        Takes no argument and returns an ndarray; it must read ``x`` (which is
        perturbed in place one entry at a time and then restored).
    x : ndarray of float64, any shape
        The array to differentiate with respect to.
    df : ndarray, shape of ``f()``
        Upstream gradient :math:`\partial L / \partial f`.
    h : float
        Step size.

    Returns
    -------
    grad : ndarray, shape of ``x``

    Notes
    -----
    .. math:: \frac{\partial L}{\partial x_i} \approx
              \frac{L(x + h e_i) - L(x - h e_i)}{2h}

    The error of the centred difference is :math:`O(h^2)`.
    """
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        plus = (np.asarray(f()) * df).sum()
        x[i] = old - h
        minus = (np.asarray(f()) * df).sum()
        x[i] = old
        grad[i] = (plus - minus) / (2 * h)
        it.iternext()
    return grad


def relative_error(a, b):
    r"""Relative error :math:`\|a - b\| / (\|a\| + \|b\|)`, 0 when both are 0.

    Below about 1e-7 two gradients agree; above 1e-3 something is wrong.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    scale = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if scale == 0 else float(np.linalg.norm(a - b) / scale)


def _rnn_params(rng, n_x, n_a, n_y):
    return {
        "Wax": rng.standard_normal((n_a, n_x)),
        "Waa": rng.standard_normal((n_a, n_a)),
        "Wya": rng.standard_normal((n_y, n_a)),
        "ba": rng.standard_normal((n_a, 1)),
        "by": rng.standard_normal((n_y, 1)),
    }


def _lstm_params(rng, n_x, n_a, n_y):
    p = {}
    for gate in "fico":
        p["W" + gate] = rng.standard_normal((n_a, n_a + n_x))
        p["b" + gate] = rng.standard_normal((n_a, 1))
    p["Wy"] = rng.standard_normal((n_y, n_a))
    p["by"] = rng.standard_normal((n_y, 1))
    return p


def _problem(kind, rng, n_x, n_a, n_y, m, T_x):
    """Inputs, forward call, and the (grad key -> array) map for one check."""
    seq = kind in ("rnn", "lstm")
    x = rng.standard_normal((n_x, m, T_x) if seq else (n_x, m))
    a = rng.standard_normal((n_a, m))
    p = (_rnn_params if kind.startswith("rnn") else _lstm_params)(rng, n_x, n_a, n_y)
    c = rng.standard_normal((n_a, m))
    names = {"dx": x, "da0": a} if seq else {"dxt": x, "da_prev": a}
    if kind == "lstm_cell":
        names["dc_prev"] = c
    names.update({"d" + k: v for k, v in p.items() if k not in ("Wya", "Wy", "by")})
    return x, a, c, p, names


def _verdict(err):
    if err < 1e-7:
        return "ok"
    if err < 1e-4:
        # Saturated units can make a gradient so small that finite differences
        # cannot resolve it; a real mistake gives errors far above 1e-4.
        return "borderline: run again with another seed; a real mistake stays above 1e-4"
    return "CHECK THIS"


def gradient_check(kind, forward, backward, seed=0, shape=(3, 5, 2, 4, 3),
                   h=1e-5, verbose=True):
    r"""Compare your backward pass with centred differences of your forward pass.

    Parameters
    ----------
    kind : {"rnn_cell", "rnn", "lstm_cell", "lstm"}
        Which pair of functions is checked.
    forward : callable
        Your forward function for that kind, e.g. ``rnn_cell_forward``.
    backward : callable
        Your backward function for that kind, e.g. ``rnn_cell_backward``.
    seed : int
        Seed of the random inputs and upstream gradients.
    shape : tuple of int
        ``(n_x, n_a, n_y, m, T_x)``; ``T_x`` is used by the sequence kinds.
    h : float
        Finite-difference step.
    verbose : bool
        Print one line per gradient.

    Returns
    -------
    errors : dict
        Relative error (see :func:`relative_error`) for each gradient that
        has a numerical counterpart; ``inf`` where your dict lacks the key.

    Notes
    -----
    The scalar loss is :math:`L = \sum_t \langle a^{\langle t \rangle}, da^{\langle t \rangle} \rangle`
    (plus :math:`\langle c, dc \rangle` for one LSTM cell) with random
    upstream gradients ``da`` (and ``dc``); every gradient your backward pass
    returns is compared with :func:`numerical_gradient` of that loss.
    """
    kinds = ("rnn_cell", "rnn", "lstm_cell", "lstm")
    if kind not in kinds:
        raise ValueError(f"kind must be one of {kinds}, got {kind!r}")
    n_x, n_a, n_y, m, T_x = shape
    rng = np.random.default_rng(seed)
    x, a, c, p, arrays = _problem(kind, rng, n_x, n_a, n_y, m, T_x)
    da = rng.standard_normal((n_a, m, T_x) if kind in ("rnn", "lstm") else (n_a, m))
    dc = rng.standard_normal((n_a, m))

    try:
        return _gradient_check(kind, forward, backward, x, a, c, p, arrays, da, dc, h, verbose)
    except NotImplementedError as err:
        names = {"rnn_cell": "rnn_cell_forward / rnn_cell_backward", "rnn": "rnn_forward / rnn_backward",
                 "lstm_cell": "lstm_cell_forward / lstm_cell_backward",
                 "lstm": "lstm_forward / lstm_backward"}
        detail = f" ({err})" if str(err) else ""
        print(f"Nothing to check yet: {names[kind]} raised NotImplementedError{detail}.\n"
              f"Complete both functions above, run their cells, then run this cell again.")
        return {}


def _gradient_check(kind, forward, backward, x, a, c, p, arrays, da, dc, h, verbose):
    if kind == "rnn_cell":
        def outputs():
            return [forward(x, a, p)[0]]
        out = forward(x, a, p)
        grads = backward(da, out[-1])
    elif kind == "rnn":
        def outputs():
            return [forward(x, a, p)[0]]
        grads = backward(da, forward(x, a, p)[-1])
    elif kind == "lstm_cell":
        def outputs():
            a_next, c_next = forward(x, a, c, p)[:2]
            return [a_next, c_next]
        grads = backward(da, dc, forward(x, a, c, p)[-1])
    else:
        def outputs():
            return [forward(x, a, p)[0]]
        grads = backward(da, forward(x, a, p)[-1])

    upstream = [da, dc]

    def loss_terms():
        return np.array([(o * u).sum() for o, u in zip(outputs(), upstream)])

    errors = {}
    for key, arr in arrays.items():
        if key not in grads:
            errors[key] = float("inf")
            if verbose:
                print(f"{key:>8}: MISSING from the gradient dict your backward pass returned")
            continue
        num = numerical_gradient(loss_terms, arr, np.ones(len(outputs())), h=h)
        errors[key] = relative_error(grads[key], num)
        if verbose:
            print(f"{key:>8}: relative error {errors[key]:.2e}  {_verdict(errors[key])}")
    return errors


# ---------------------------------------------------------------------------
# Plots
# ---------------------------------------------------------------------------


def _heatmap(ax, values, title, cmap, vmin, vmax):
    im = ax.imshow(values, aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax,
                   interpolation="nearest")
    ax.set_title(title)
    ax.set_xlabel("time step t")
    ax.set_ylabel("unit i")
    ax.figure.colorbar(im, ax=ax)


def _lines(ax, values, title, units, legend=True):
    for i in units:
        ax.plot(values[i], label=f"unit {i}")
    ax.set_title(title)
    ax.set_xlabel("time step t")
    if legend:
        ax.legend(fontsize="small", loc="upper right")


def _autograding():
    """True while nbgrader autogrades the notebook: figures earn no points, so none is drawn."""
    if os.environ.get("NBGRADER_EXECUTION") == "autograde":
        print("(Figures are not drawn while the notebook is autograded: run it yourself to see them.)")
        return True
    return False


def _show(fig):
    """Draw ``fig`` once into the notebook (Jupyter's default would draw it twice to trim margins)."""
    import matplotlib
    import matplotlib.pyplot as plt

    if "inline" in matplotlib.get_backend():
        from IPython.display import Image, display

        buf = io.BytesIO()
        # twice the pixels, shown at the figure's size: sharp on high-resolution screens
        fig.savefig(buf, format="png", dpi=2 * fig.dpi)
        plt.close(fig)
        display(Image(buf.getvalue(), retina=True))
    return fig


def _not_ready(name, err):
    print(f"Nothing to plot yet: {name} raised {type(err).__name__}: {err}\n"
          f"Complete {name} above, run its cell, then run this cell again.")


def plot_rnn_states(rnn_forward, x, a0, parameters, example=0, units=(0, 1, 2)):
    """Heat map and line plot of the hidden states of your ``rnn_forward``.

    Parameters
    ----------
    rnn_forward : callable
        Your ``rnn_forward(x, a0, parameters)``.
    x : ndarray, shape (n_x, m, T_x)
    a0 : ndarray, shape (n_a, m)
    parameters : dict
        RNN parameters.
    example : int
        Which example ``(i)`` of the batch to plot.
    units : sequence of int
        Hidden units ``i`` drawn as lines.

    Returns
    -------
    fig : matplotlib Figure (already shown in a notebook), or None when
        ``rnn_forward`` is not ready or the notebook is being autograded.
    """
    if _autograding():
        return None
    import matplotlib.pyplot as plt

    try:
        a = np.asarray(rnn_forward(x, a0, parameters)[0])[:, example, :]
    except Exception as err:  # the student's function is not finished
        _not_ready("rnn_forward", err)
        return None
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.2), dpi=72)
    _heatmap(axes[0], a, f"RNN hidden state $a^{{({example})<t>}}$", "RdBu_r", -1, 1)
    _lines(axes[1], a, "a few hidden units over time", [u for u in units if u < a.shape[0]])
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.17, top=0.88, wspace=0.3)
    return _show(fig)


def plot_lstm_gates(lstm_forward, x, a0, parameters, example=0, units=(0, 1, 2), title=None):
    """Gates, candidate, cell state and hidden state of your ``lstm_forward``.

    Parameters
    ----------
    lstm_forward : callable
        Your ``lstm_forward(x, a0, parameters)``; the gates are read from the
        caches it returns.
    x : ndarray, shape (n_x, m, T_x)
    a0 : ndarray, shape (n_a, m)
    parameters : dict
        LSTM parameters.
    example : int
        Which example ``(i)`` of the batch to plot.
    units : sequence of int
        Units ``i`` drawn as lines under the heat maps.
    title : str, optional
        Title of the figure (default: "LSTM activations over time, example (i)").

    Returns
    -------
    fig : matplotlib Figure (already shown in a notebook), or None when
        ``lstm_forward`` is not ready or the notebook is being autograded.
    """
    if _autograding():
        return None
    import matplotlib.pyplot as plt

    try:
        a, _, c, caches = lstm_forward(x, a0, parameters)
        cells = caches[0]
        # cache = (a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, parameters)
        series = {
            "forget gate $\\Gamma_f$": np.stack([k[4][:, example] for k in cells], axis=1),
            "update gate $\\Gamma_u$": np.stack([k[5][:, example] for k in cells], axis=1),
            "output gate $\\Gamma_o$": np.stack([k[7][:, example] for k in cells], axis=1),
            "candidate $\\tilde c$": np.stack([k[6][:, example] for k in cells], axis=1),
            "cell state $c$": np.asarray(c)[:, example, :],
            "hidden state $a$": np.asarray(a)[:, example, :],
        }
    except Exception as err:  # the student's function is not finished
        _not_ready("lstm_forward", err)
        return None
    fig, axes = plt.subplots(2, 6, figsize=(17, 5.5), dpi=72)
    shown = [u for u in units if u < series["cell state $c$"].shape[0]]
    for col, (name, values) in enumerate(series.items()):
        gate = "gate" in name
        lim = max(1.0, float(np.max(np.abs(values))))
        _heatmap(axes[0, col], values, name,
                 "viridis" if gate else "RdBu_r", 0 if gate else -lim, 1 if gate else lim)
        _lines(axes[1, col], values, name, shown, legend=col == 0)
    fig.suptitle(title or f"LSTM activations over time, example ({example})")
    fig.subplots_adjust(left=0.04, right=0.98, bottom=0.09, top=0.88, wspace=0.45, hspace=0.45)
    return _show(fig)


# ---------------------------------------------------------------------------
# Self-check: what Validate reports
# ---------------------------------------------------------------------------

FUNCTIONS = ("rnn_cell_forward", "rnn_forward", "rnn_cell_backward", "rnn_backward",
             "lstm_cell_forward", "lstm_forward", "lstm_cell_backward", "lstm_backward")

# The functions of yours that each function's visible tests call besides it.
_USES = {"rnn_forward": ("rnn_cell_forward",),
         "rnn_cell_backward": ("rnn_cell_forward",),
         "rnn_backward": ("rnn_cell_forward", "rnn_forward", "rnn_cell_backward"),
         "lstm_forward": ("lstm_cell_forward",),
         "lstm_cell_backward": ("lstm_cell_forward",),
         "lstm_backward": ("lstm_cell_forward", "lstm_forward", "lstm_cell_backward")}

_VISIBLE_CELL = re.compile(r'\s*[rR]?"""(\w+): [^\n]*\(visible\)')
_visible_runs = {}  # function name -> (the function the visible tests ran, their exception or None)


class SelfCheckFailed(AssertionError):
    """A function is unfinished or fails its visible tests; shown as its message alone."""

    def _render_traceback_(self):  # IPython shows this instead of a traceback
        import textwrap

        lines = []
        for line in f"{type(self).__name__}: {self}".split("\n"):
            indent = line[:len(line) - len(line.lstrip())]
            lines += textwrap.wrap(line, 78, subsequent_indent=indent + "  ",
                                   break_long_words=False, break_on_hyphens=False) or [""]
        return lines  # short lines: nbgrader validate cuts lines past 86 characters


def _record_visible_test(result=None):
    """IPython ``post_run_cell`` hook: remember how each visible-test cell last ended."""
    try:
        info = getattr(result, "info", None)
        match = _VISIBLE_CELL.match(getattr(info, "raw_cell", None) or "")
        if match and match.group(1) in FUNCTIONS:
            from IPython import get_ipython

            fn = match.group(1)
            error = getattr(result, "error_before_exec", None) or getattr(result, "error_in_exec", None)
            _visible_runs[fn] = (get_ipython().user_ns.get(fn), error)
    except Exception:  # a helper must never break the notebook
        pass


def _watch_visible_tests():
    """Register :func:`_record_visible_test` once per kernel (not while autograded)."""
    if os.environ.get("NBGRADER_EXECUTION") == "autograde" or "IPython" not in sys.modules:
        return
    try:
        from IPython import get_ipython

        shell = get_ipython()
        if shell is None:
            return
        for callback in list(shell.events.callbacks.get("post_run_cell", [])):
            if getattr(callback, "__name__", "") == "_record_visible_test":  # a re-imported copy
                shell.events.unregister("post_run_cell", callback)
        shell.events.register("post_run_cell", _record_visible_test)
    except Exception:
        pass


def _more_code_follows(frame):
    """True when the cell that called the self-check goes on after the call (its graded version)."""
    import ast

    source = "".join(linecache.getlines(frame.f_code.co_filename, frame.f_globals))
    try:
        body = ast.parse(source).body
    except (SyntaxError, ValueError):
        return False
    return any(node.lineno > frame.f_lineno for node in body)


def _not_finished(err):
    """The innermost of the eight functions that raised ``NotImplementedError``, if any."""
    if not isinstance(err, NotImplementedError):
        return None
    tb, name = err.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_name in FUNCTIONS:
            name = tb.tb_frame.f_code.co_name
        tb = tb.tb_next
    return name


def self_check(fn, namespace):
    """Raise :class:`SelfCheckFailed` when ``fn`` is unfinished or fails its visible tests.

    Called at the end of each graded test cell of the released notebook, so
    that ``nbgrader validate`` (and the Validate button) names every function
    that is not ready. While nbgrader autogrades, or when the cell goes on
    (the instructor's version, with the hidden tests after this call), it does
    nothing at all: the hidden tests alone decide the points.

    Parameters
    ----------
    fn : str
        One of the eight function names, e.g. ``"rnn_cell_forward"``.
    namespace : dict
        The notebook's ``globals()``.

    Returns
    -------
    None
        Prints one line when the visible tests of ``fn`` passed.
    """
    if os.environ.get("NBGRADER_EXECUTION") == "autograde" or _more_code_follows(sys._getframe(1)):
        return None
    func = namespace.get(fn)
    if not callable(func):
        raise SelfCheckFailed(f"{fn} is not defined: run the cell that defines it, then this one.")
    if fn not in _visible_runs:
        raise SelfCheckFailed(f"{fn}: its visible tests (the cell above) have not run yet: "
                              "run them, then this cell.")
    tested, err = _visible_runs[fn]
    if tested is not func:
        raise SelfCheckFailed(f"{fn} changed since its visible tests (the cell above) ran: "
                              "run them again, then this cell.")
    if err is None:
        print(f"{fn}: the visible tests pass (the hidden tests run when the notebook is graded).")
        return None
    unfinished = _not_finished(err)
    stub = "NotImplementedError" in getattr(getattr(func, "__code__", None), "co_names", ())
    if unfinished == fn or (unfinished and stub):
        also = ("" if unfinished == fn else f"\n    (its visible tests also need your {unfinished}, "
                "which is not finished either)")
        raise SelfCheckFailed(f"{fn} is not finished: it raises NotImplementedError.{also}")
    if unfinished:
        raise SelfCheckFailed(f"{fn}: its visible tests cannot run: {unfinished}, which they "
                              "call, is not finished (NotImplementedError).")
    detail = f"{type(err).__name__}: {err}".strip().replace("\n", "\n    ")
    failing = [u for u in _USES.get(fn, ()) if _visible_runs.get(u, (None, None))[1] is not None]
    one = len(failing) == 1
    note = (f"\n    (these tests also call your {' and '.join(failing)}, which "
            f"{'fails its' if one else 'fail their'} own visible tests: fix "
            f"{'it' if one else 'them'} first)" if failing else "")
    raise SelfCheckFailed(f"{fn} fails its visible tests (the cell above):\n    {detail}{note}")


_watch_visible_tests()
