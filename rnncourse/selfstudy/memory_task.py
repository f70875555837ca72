"""The self-study task: recall, after a long delay, the one symbol shown under a cue.

Shapes follow the course: ``x`` is ``(n_x, m, T_x)``, one column per example.
"""

import numpy as np


def recall_task(m, n_symbols=4, delay=50, cue_window=10, rng=None):
    """Sequences in which one cued symbol must be recalled at least ``delay`` steps later.

    Every step shows one of ``n_symbols`` symbols (one-hot). One step, drawn
    at random among the first ``cue_window`` steps, also carries a cue
    ("remember this one"); the last step carries a query ("answer now").
    After the last step the model must say which symbol it saw under the cue.
    All other symbols, before and after the cue, are random distractors from
    the same alphabet: whatever the model writes into its memory at any other
    step than the cue is noise.

    Parameters
    ----------
    m : int
        Number of sequences (examples).
    n_symbols : int
        Alphabet size; guessing gives an accuracy of ``1 / n_symbols``.
    delay : int
        Fewest steps from the cue to the last step (reached when the cue
        comes last in its window).
    cue_window : int
        The cue is at one of the steps ``1 .. cue_window`` (uniformly).
    rng : numpy.random.Generator, optional
        Source of randomness (default: a fresh, unseeded generator).

    Returns
    -------
    x : ndarray, shape (n_symbols + 2, m, cue_window + delay)
        Rows ``0 .. n_symbols - 1``: the symbol, one-hot. Row ``n_symbols``:
        the cue flag, 1 at the cue step only. Row ``n_symbols + 1``: the
        query flag, 1 at the last step only.
    y : ndarray of int, shape (m,)
        The symbol shown at the cue step.
    """
    if n_symbols < 2 or delay < 1 or cue_window < 1 or m < 1:
        raise ValueError(f"need n_symbols >= 2, delay >= 1, cue_window >= 1 and m >= 1; got "
                         f"n_symbols={n_symbols}, delay={delay}, cue_window={cue_window}, m={m}")
    rng = rng if rng is not None else np.random.default_rng()
    T_x = cue_window + delay
    symbols = rng.integers(0, n_symbols, size=(m, T_x))
    cue = rng.integers(0, cue_window, size=m)
    x = np.zeros((n_symbols + 2, m, T_x))
    examples = np.arange(m)
    for t in range(T_x):
        x[symbols[:, t], examples, t] = 1.0
    x[n_symbols, examples, cue] = 1.0
    x[n_symbols + 1, :, -1] = 1.0
    return x, symbols[examples, cue]


def cue_steps(x):
    """Index (0-based) of the cue step of every sequence of ``x``, shape (m,).

    The cue flag is the second-to-last row of ``x`` (see :func:`recall_task`).
    """
    return np.argmax(x[-2], axis=1)
