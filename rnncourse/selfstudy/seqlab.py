"""Train the course's own RNN and LSTM on a long-delay memory task.

The self-study notebooks in ``notebooks/`` use this module. The recurrent
part of each model is exactly the course's reference functions
(``rnn_forward``/``rnn_backward``, ``lstm_forward``/``lstm_backward``,
loaded from the master notebook by :func:`rnncourse.content.reference.load`); this
module adds only what training needs around them:

* the task: :func:`recall_task`;
* an output layer on the last hidden state with a softmax cross-entropy
  loss: :func:`output_layer` and :func:`softmax_cross_entropy`, and a penalty
  on the hidden state before the answer (:meth:`Model.loss_and_gradients`);
* an optimiser: :class:`Adam` with :func:`clip_by_global_norm`;
* the training loop :func:`train`, and a few measurements and plots.

Shapes follow the course: ``x`` is ``(n_x, m, T_x)``, hidden states are
``(n_a, m, T_x)``, one column per example.
"""

import time
from dataclasses import dataclass, field

import numpy as np

# ---------------------------------------------------------------------------
# The task
# ---------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------
# Output layer, loss, optimiser
# ---------------------------------------------------------------------------


def output_layer(a_last, Wy, by):
    r"""Class probabilities from the last hidden state.

    Parameters
    ----------
    a_last : ndarray, shape (n_a, m)
    Wy : ndarray, shape (n_y, n_a)
    by : ndarray, shape (n_y, 1)

    Returns
    -------
    logits : ndarray, shape (n_y, m)
        :math:`W_y a^{\langle T_x \rangle} + b_y`; the softmax of each column
        is the model's prediction.
    """
    return Wy @ a_last + by


def softmax_cross_entropy(logits, y):
    r"""Mean cross-entropy of ``softmax(logits)`` against labels, and its gradient.

    Parameters
    ----------
    logits : ndarray, shape (n_y, m)
    y : ndarray of int, shape (m,)
        The correct class of each example.

    Returns
    -------
    loss : float
        :math:`-\frac{1}{m}\sum_i \log p^{(i)}_{y^{(i)}}`.
    probs : ndarray, shape (n_y, m)
        Softmax of each column.
    dlogits : ndarray, shape (n_y, m)
        :math:`\partial \mathrm{loss} / \partial \mathrm{logits} = (p - \mathrm{onehot}(y)) / m`.
    """
    m = logits.shape[1]
    shifted = logits - logits.max(axis=0, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=0, keepdims=True))
    probs = np.exp(log_probs)
    examples = np.arange(m)
    loss = -float(np.mean(log_probs[y, examples]))
    dlogits = probs.copy()
    dlogits[y, examples] -= 1.0
    return loss, probs, dlogits / m


def clip_by_global_norm(grads, max_norm):
    """Scale all gradients down together when their joint norm exceeds ``max_norm``.

    Parameters
    ----------
    grads : dict of str -> ndarray
    max_norm : float

    Returns
    -------
    clipped : dict of str -> ndarray
        Same keys and shapes; the direction of the whole update is kept.
    norm : float
        The joint norm before clipping.
    """
    norm = float(np.sqrt(sum(np.sum(g * g) for g in grads.values())))
    if norm <= max_norm:
        return grads, norm
    return {k: g * (max_norm / norm) for k, g in grads.items()}, norm


class Adam:
    r"""The Adam optimiser (Kingma and Ba, 2015), updating a parameter dict in place.

    For every parameter :math:`w` with gradient :math:`g`, at step :math:`k`:

    .. math::
        v \leftarrow \beta_1 v + (1 - \beta_1) g, \quad
        s \leftarrow \beta_2 s + (1 - \beta_2) g^2, \quad
        w \leftarrow w - \alpha \frac{v / (1 - \beta_1^k)}{\sqrt{s / (1 - \beta_2^k)} + \epsilon}

    Parameters
    ----------
    parameters : dict of str -> ndarray
        Updated in place by :meth:`step`.
    learning_rate, beta1, beta2, eps : float
    """

    def __init__(self, parameters, learning_rate=0.01, beta1=0.9, beta2=0.999, eps=1e-8):
        self.parameters = parameters
        self.learning_rate, self.beta1, self.beta2, self.eps = learning_rate, beta1, beta2, eps
        self.v = {k: np.zeros_like(w) for k, w in parameters.items()}
        self.s = {k: np.zeros_like(w) for k, w in parameters.items()}
        self.k = 0

    def step(self, grads):
        """Apply one update; ``grads`` has the same keys as the parameters."""
        self.k += 1
        b1, b2 = self.beta1, self.beta2
        for key, w in self.parameters.items():
            g = grads[key]
            self.v[key] = b1 * self.v[key] + (1 - b1) * g
            self.s[key] = b2 * self.s[key] + (1 - b2) * g * g
            v_hat = self.v[key] / (1 - b1 ** self.k)
            s_hat = self.s[key] / (1 - b2 ** self.k)
            w -= self.learning_rate * v_hat / (np.sqrt(s_hat) + self.eps)


# ---------------------------------------------------------------------------
# The two models
# ---------------------------------------------------------------------------


def init_parameters(kind, n_x, n_a, n_y, rng, forget_bias=5.0, update_bias=0.0, output_bias=0.0):
    r"""Random initial parameters in the course's layout.

    Weights are drawn from :math:`\mathcal N(0, 1/\text{fan-in})`, biases are
    zero, except the LSTM's gate biases: the forget gate's starts at
    ``forget_bias`` so that the new LSTM keeps its memory
    (:math:`\sigma(5) \approx 0.993`) until it learns what to forget; the
    update and output gates' at ``update_bias`` and ``output_bias``
    (negative: the gate starts nearly shut, :math:`\sigma(-3) \approx 0.05`,
    and learns when to open).

    Parameters
    ----------
    kind : {"rnn", "lstm"}
    n_x, n_a, n_y : int
        Input size, hidden size, number of classes.
    rng : numpy.random.Generator
    forget_bias, update_bias, output_bias : float
        Initial value of every entry of ``bf``, ``bi``, ``bo`` (LSTM only).

    Returns
    -------
    parameters : dict
        RNN: Wax (n_a, n_x), Waa (n_a, n_a), ba (n_a, 1), Wya (n_y, n_a), by (n_y, 1).
        LSTM: Wf, Wi, Wc, Wo (n_a, n_a + n_x), bf, bi, bc, bo (n_a, 1), Wy (n_y, n_a), by (n_y, 1).
    """
    def normal(rows, cols):
        return rng.standard_normal((rows, cols)) / np.sqrt(cols)

    if kind == "rnn":
        p = {"Wax": normal(n_a, n_x), "Waa": normal(n_a, n_a), "ba": np.zeros((n_a, 1)),
             "Wya": normal(n_y, n_a)}
    elif kind == "lstm":
        p = {}
        for gate in "fico":
            p["W" + gate] = normal(n_a, n_a + n_x)
            p["b" + gate] = np.zeros((n_a, 1))
        p["bf"] += forget_bias
        p["bi"] += update_bias
        p["bo"] += output_bias
        p["Wy"] = normal(n_y, n_a)
    else:
        raise ValueError(f"kind must be 'rnn' or 'lstm', got {kind!r}")
    p["by"] = np.zeros((n_y, 1))
    return p


class Model:
    """A recurrent model (the course's functions) with an output layer on the last step.

    Parameters
    ----------
    kind : {"rnn", "lstm"}
    ref : module
        Provides ``rnn_forward``, ``rnn_backward``, ``lstm_forward``,
        ``lstm_backward`` with the course's signatures (the reference,
        ``rnncourse.content.reference.load()``, or your own).
    parameters : dict
        As returned by :func:`init_parameters`. The output weights
        (``Wya`` or ``Wy``, and ``by``) are also the output layer.
    """

    def __init__(self, kind, ref, parameters):
        if kind not in ("rnn", "lstm"):
            raise ValueError(f"kind must be 'rnn' or 'lstm', got {kind!r}")
        self.kind = kind
        self.parameters = parameters
        self.forward_fn = ref.rnn_forward if kind == "rnn" else ref.lstm_forward
        self.backward_fn = ref.rnn_backward if kind == "rnn" else ref.lstm_backward
        self.wy = "Wya" if kind == "rnn" else "Wy"

    @property
    def n_a(self):
        return self.parameters[self.wy].shape[1]

    def forward(self, x):
        """Run the course's forward pass.

        Returns
        -------
        a : ndarray, shape (n_a, m, T_x)
        c : ndarray, shape (n_a, m, T_x), or None for the RNN
        caches : as returned by the forward function
        """
        a0 = np.zeros((self.n_a, x.shape[1]))
        if self.kind == "rnn":
            a, _, caches = self.forward_fn(x, a0, self.parameters)
            return a, None, caches
        a, _, c, caches = self.forward_fn(x, a0, self.parameters)
        return a, c, caches

    def logits(self, x):
        """Output-layer scores, shape (n_y, m), from the last hidden state."""
        a = self.forward(x)[0]
        return output_layer(a[:, :, -1], self.parameters[self.wy], self.parameters["by"])

    def accuracy(self, x, y):
        """Fraction of sequences whose answer is right."""
        return float(np.mean(np.argmax(self.logits(x), axis=0) == y))

    def loss_and_gradients(self, x, y, activity_penalty=0.0):
        r"""Loss and the gradient of every parameter, by the course's backward pass.

        The objective is the cross-entropy of the answer plus, if
        ``activity_penalty`` (:math:`\lambda`) is not zero, a penalty on the
        hidden state at every step before the last, the steps where no
        answer is asked for:

        .. math::
            J = \mathrm{loss} + \frac{\lambda}{m (T_x - 1)} \sum_{i=1}^{m}
                \sum_{t=1}^{T_x - 1} \|a^{\langle t \rangle (i)}\|^2

        Parameters
        ----------
        x : ndarray, shape (n_x, m, T_x)
        y : ndarray of int, shape (m,)
        activity_penalty : float
            :math:`\lambda`; 0 gives the plain cross-entropy.

        Returns
        -------
        loss : float
            The cross-entropy alone (the number to compare with
            :math:`\ln n_y`, the loss of a uniform guess).
        grads : dict
            The gradient of :math:`J`: one entry per parameter, same key and shape.
        dx : ndarray, shape (n_x, m, T_x)
            Gradient of :math:`J` with respect to every input.
        """
        p = self.parameters
        a, _, caches = self.forward(x)
        m, T_x = x.shape[1], x.shape[2]
        a_last = a[:, :, -1]
        loss, _, dlogits = softmax_cross_entropy(output_layer(a_last, p[self.wy], p["by"]), y)
        # The answer sees only the last hidden state; the penalty, the earlier ones.
        da = np.zeros_like(a)
        da[:, :, :-1] = (2 * activity_penalty / (m * (T_x - 1))) * a[:, :, :-1]
        da[:, :, -1] = p[self.wy].T @ dlogits
        back = self.backward_fn(da, caches)
        grads = {k: back["d" + k] for k in p if "d" + k in back}
        grads[self.wy] = dlogits @ a_last.T
        grads["by"] = dlogits.sum(axis=1, keepdims=True)
        return loss, grads, back["dx"]

    def input_gradient_norms(self, x, y):
        r"""How much gradient reaches each time step: :math:`\|\partial L / \partial x^{\langle t \rangle}\|`.

        :math:`L` is the cross-entropy alone (no activity penalty).

        Returns
        -------
        norms : ndarray, shape (T_x,)
            Norm over the input features and the examples of each step.
        """
        dx = self.loss_and_gradients(x, y)[2]
        return np.sqrt(np.sum(dx * dx, axis=(0, 1)))

    def gates(self, x):
        """The LSTM's gates and states over time, read from the caches of the forward pass.

        Returns
        -------
        series : dict of str -> ndarray, each shape (n_a, m, T_x)
            forget, update, output, candidate, cell, hidden.
        """
        if self.kind != "lstm":
            raise ValueError("gates() needs an LSTM model")
        a, c, caches = self.forward(x)
        cells = caches[0]
        # cache = (a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, parameters)
        return {
            "forget": np.stack([k[4] for k in cells], axis=2),
            "update": np.stack([k[5] for k in cells], axis=2),
            "output": np.stack([k[7] for k in cells], axis=2),
            "candidate": np.stack([k[6] for k in cells], axis=2),
            "cell": c,
            "hidden": a,
        }

    def memory_units(self, x, k=4):
        r"""The ``k`` hidden units the answer depends on most, on the sequences ``x``.

        A unit's share of the answer is :math:`\|W_y[:, j]\| \cdot
        \mathrm{mean}_i |a_j^{\langle T_x \rangle (i)}|`: how strongly the
        output layer reads it, times how much it says at the last step.

        Returns
        -------
        units : ndarray of int, shape (k,)
            Unit indices, largest share first.
        """
        a_last = self.forward(x)[0][:, :, -1]
        share = np.linalg.norm(self.parameters[self.wy], axis=0) * np.abs(a_last).mean(axis=1)
        return np.argsort(-share)[:k]


def gate_summary(series, x, units):
    """Mean gate values of some units at the cue, during the delay and at the query.

    Parameters
    ----------
    series : dict
        From :meth:`Model.gates` on ``x``.
    x : ndarray, shape (n_x, m, T_x)
    units : sequence of int
        The units to average over (e.g. :meth:`Model.memory_units`).

    Returns
    -------
    summary : dict of str -> float
        ``update_before``, ``update_at_cue``, ``update_delay``: the update gate
        before the cue, at the cue step, during the delay (the steps after
        the cue and before the last one); ``forget_delay_mean``,
        ``forget_delay_min``: the forget gate from the step after the cue to
        the last step, averaged and at its lowest; ``output_delay``,
        ``output_at_query``: the output gate during the delay and at the last step.
    """
    T_x = x.shape[2]
    cue = cue_steps(x)
    t = np.arange(T_x)[None, :]
    before, after = t < cue[:, None], t > cue[:, None]
    delay = after & (t < T_x - 1)
    u, f, o = (series[k][np.asarray(units)] for k in ("update", "forget", "output"))
    examples = np.arange(x.shape[1])
    return {
        "update_before": float(u[:, before].mean()),
        "update_at_cue": float(u[:, examples, cue].mean()),
        "update_delay": float(u[:, delay].mean()),
        "forget_delay_mean": float(f[:, after].mean()),
        "forget_delay_min": float(f[:, after].min()),
        "output_delay": float(o[:, delay].mean()),
        "output_at_query": float(o[:, :, -1].mean()),
    }


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    """Everything that determines a training run (and so its result)."""

    n_symbols: int = 4             # the task (see recall_task)
    delay: int = 50
    cue_window: int = 10
    n_a: int = 16                  # hidden units
    batch: int = 64                # training: sequences per iteration
    iterations: int = 800
    learning_rate: float = 0.05    # Adam's
    clip: float = 1.0              # largest joint gradient norm
    activity_penalty: float = 1.0  # lambda of Model.loss_and_gradients
    forget_bias: float = 5.0       # initial LSTM gate biases (see init_parameters)
    update_bias: float = -3.0
    output_bias: float = -3.0
    eval_every: int = 25
    n_valid: int = 500
    n_test: int = 1000
    seed: int = 0


@dataclass
class History:
    """What happened during :func:`train`."""

    iteration: list = field(default_factory=list)
    loss: list = field(default_factory=list)
    eval_iteration: list = field(default_factory=list)
    valid_accuracy: list = field(default_factory=list)
    eval_seconds: list = field(default_factory=list)
    seconds: float = 0.0

    def first_reached(self, accuracy):
        """(iteration, seconds) of the first validation accuracy >= ``accuracy``, or None."""
        for it, acc, sec in zip(self.eval_iteration, self.valid_accuracy, self.eval_seconds):
            if acc >= accuracy:
                return it, sec
        return None


def data(config):
    """Validation and test sets, and the generator of training batches (all seeded).

    Returns
    -------
    valid : tuple (x, y)
    test : tuple (x, y)
    batches : numpy.random.Generator
        Draw training batches with ``recall_task(config.batch, ..., rng=batches)``.
    """
    seeds = np.random.SeedSequence(config.seed).spawn(3)
    rngs = [np.random.default_rng(s) for s in seeds]
    kw = {"n_symbols": config.n_symbols, "delay": config.delay, "cue_window": config.cue_window}
    valid = recall_task(config.n_valid, rng=rngs[0], **kw)
    test = recall_task(config.n_test, rng=rngs[1], **kw)
    return valid, test, rngs[2]


def new_model(kind, ref, config):
    """A freshly initialised model of ``kind`` for ``config`` (seeded: the same every time)."""
    rng = np.random.default_rng([config.seed, 1 if kind == "rnn" else 2])
    n_x = config.n_symbols + 2
    params = init_parameters(kind, n_x, config.n_a, config.n_symbols, rng, config.forget_bias,
                             config.update_bias, config.output_bias)
    return Model(kind, ref, params)


def train(model, config, progress=True):
    """Train ``model`` on the recall task with Adam, gradient clipping and the activity penalty.

    Parameters
    ----------
    model : Model
    config : Config
    progress : bool
        Print the validation accuracy now and then.

    Returns
    -------
    history : History
        Training loss (cross-entropy) per iteration, validation accuracy every
        ``config.eval_every`` iterations (with the seconds elapsed then),
        wall-clock seconds in all (validation included).
    """
    (x_valid, y_valid), _, batches = data(config)
    optimiser = Adam(model.parameters, learning_rate=config.learning_rate)
    history = History()
    start = time.perf_counter()
    for it in range(1, config.iterations + 1):
        x, y = recall_task(config.batch, config.n_symbols, config.delay, config.cue_window, rng=batches)
        loss, grads, _ = model.loss_and_gradients(x, y, config.activity_penalty)
        grads, _ = clip_by_global_norm(grads, config.clip)
        optimiser.step(grads)
        history.iteration.append(it)
        history.loss.append(loss)
        if it % config.eval_every == 0 or it == config.iterations:
            acc = model.accuracy(x_valid, y_valid)
            history.eval_iteration.append(it)
            history.valid_accuracy.append(acc)
            history.eval_seconds.append(time.perf_counter() - start)
            if progress and (it % (8 * config.eval_every) == 0 or it == config.iterations):
                print(f"  {model.kind.upper():4} iteration {it:4d}: loss {loss:.3f}, "
                      f"validation accuracy {acc:.3f}  ({time.perf_counter() - start:.1f} s)")
    history.seconds = time.perf_counter() - start
    return history


# ---------------------------------------------------------------------------
# Plots
# ---------------------------------------------------------------------------

COLOURS = {"rnn": "tab:red", "lstm": "tab:blue"}


def plot_learning_curves(histories, chance, dpi=72):
    """Training loss and validation accuracy of each model.

    Parameters
    ----------
    histories : dict of {"rnn", "lstm"} -> History
    chance : float
        Accuracy of guessing, drawn as a dashed line.
    """
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.4), dpi=dpi)
    for kind, h in histories.items():
        loss = np.asarray(h.loss)
        w = min(25, len(loss))
        smooth = np.convolve(loss, np.ones(w) / w, mode="valid")
        ax_loss.plot(h.iteration[w - 1:], smooth, color=COLOURS[kind], label=kind.upper())
        ax_acc.plot(h.eval_iteration, h.valid_accuracy, color=COLOURS[kind], label=kind.upper())
    ax_loss.set_yscale("log")
    ax_loss.set_title("training loss (moving average)")
    ax_acc.axhline(chance, color="grey", ls="--", label="chance")
    ax_acc.set_ylim(0, 1.02)
    ax_acc.set_title("validation accuracy")
    for ax in (ax_loss, ax_acc):
        ax.set_xlabel("iteration")
        ax.legend(loc="best")
    fig.tight_layout()
    return fig


def plot_gradient_norms(norms, cue_window=None, dpi=72):
    r"""Gradient norm :math:`\|\partial L / \partial x^{\langle t \rangle}\|` per time step, log scale.

    Parameters
    ----------
    norms : dict of label -> ndarray, shape (T_x,)
        Labels starting with "RNN" or "LSTM" get that model's colour;
        labels containing "init" are dashed.
    cue_window : int, optional
        Shade the steps ``1 .. cue_window``, where the cue can be.
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=dpi)
    if cue_window:
        ax.axvspan(0.5, cue_window + 0.5, color="0.9", label="where the cue can be")
    for label, n in norms.items():
        kind = label.split()[0].lower()
        t = np.arange(1, len(n) + 1)
        ax.semilogy(t, np.maximum(n, 1e-300), color=COLOURS.get(kind), label=label,
                    ls="--" if "init" in label else "-")
    ax.set_xlabel("time step t (the loss is computed after the last step)")
    ax.set_ylabel(r"$\|\partial L / \partial x^{\langle t \rangle}\|$")
    ax.set_title("gradient reaching each time step")
    ax.legend(loc="best", fontsize="small")
    fig.tight_layout()
    return fig


def plot_memory_gates(series, x, units, example=0, dpi=72):
    """A trained LSTM on one sequence: the input, then the gates and cell state of some units.

    Parameters
    ----------
    series : dict
        From :meth:`Model.gates` on ``x``.
    x : ndarray, shape (n_x, m, T_x)
        The sequences (symbols, then the cue and query flags as the last two rows).
    units : sequence of int
        The units to draw (e.g. :meth:`Model.memory_units`), one line each.
    example : int
        Which sequence to draw.

    Returns
    -------
    fig : matplotlib Figure
    """
    import matplotlib.pyplot as plt

    n_x, _, T_x = x.shape
    t = np.arange(1, T_x + 1)
    cue = int(cue_steps(x)[example]) + 1
    fig, axes = plt.subplots(5, 1, figsize=(9, 9.5), dpi=dpi, sharex=True,
                             gridspec_kw={"height_ratios": [0.9, 1, 1, 1, 1.2]})
    axes[0].imshow(x[:, example, :], aspect="auto", cmap="Greys", interpolation="nearest",
                   extent=(0.5, T_x + 0.5, n_x - 0.5, -0.5))
    axes[0].set_yticks(range(n_x))
    axes[0].set_yticklabels([f"symbol {i}" for i in range(n_x - 2)] + ["cue", "query"], fontsize="small")
    axes[0].set_title(f"input: recall the symbol shown with the cue (step {cue}) at the query (step {T_x})")
    panels = [
        ("update", r"update gate $\Gamma_u$ (how much is written)"),
        ("forget", r"forget gate $\Gamma_f$ (how much is kept)"),
        ("output", r"output gate $\Gamma_o$ (how much is shown in $a$)"),
        ("cell", "cell state $c$ (the memory)"),
    ]
    for ax, (key, title) in zip(axes[1:], panels):
        for j in units:
            ax.plot(t, series[key][j, example], lw=1.6, label=f"unit {j}")
        ax.set_title(title)
    for ax in axes[1:4]:
        ax.set_ylim(-0.03, 1.03)
    low = min(float(series["forget"][np.asarray(units), example, cue:].min()), 0.9)
    axes[2].set_ylim(low - 0.01, 1.005)
    axes[4].axhline(0, color="grey", lw=0.5)
    axes[1].legend(loc="upper right", fontsize="small", ncol=len(units))
    for ax in axes:
        ax.axvline(cue, color="tab:red", ls="--", lw=1)
    axes[-1].set_xlabel("time step t (dashed line: the cue)")
    fig.tight_layout()
    return fig
