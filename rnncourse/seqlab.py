"""Train the course's own RNN and LSTM on a long-delay memory task.

The self-study notebooks in ``notebooks/`` use this module. The recurrent
part of each model is exactly the course's reference functions
(``rnn_forward``/``rnn_backward``, ``lstm_forward``/``lstm_backward``,
loaded from the master notebook by :func:`rnncourse.reference.load`); this
module adds only what training needs around them:

* the task: :func:`recall_task`;
* an output layer on the last hidden state with a softmax cross-entropy
  loss: :func:`output_layer` and :func:`softmax_cross_entropy`;
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


def recall_task(m, n_symbols=4, delay=60, rng=None):
    """Sequences whose first symbol must be recalled after ``delay`` more steps.

    Every step shows one of ``n_symbols`` symbols (one-hot). The first step
    also carries a cue ("remember this one"). After the last step the model
    must say which symbol it saw at the first step; the ``delay`` symbols
    in between are random distractors from the same alphabet.

    Parameters
    ----------
    m : int
        Number of sequences (examples).
    n_symbols : int
        Alphabet size; guessing gives an accuracy of ``1 / n_symbols``.
    delay : int
        Steps between the cue and the answer.
    rng : numpy.random.Generator, optional
        Source of randomness (default: a fresh, unseeded generator).

    Returns
    -------
    x : ndarray, shape (n_symbols + 1, m, delay + 1)
        Rows ``0 .. n_symbols - 1``: the symbol, one-hot. Row ``n_symbols``:
        the cue flag, 1 at the first step only.
    y : ndarray of int, shape (m,)
        The symbol shown at the first step.
    """
    if n_symbols < 2 or delay < 1 or m < 1:
        raise ValueError(f"need n_symbols >= 2, delay >= 1 and m >= 1; got n_symbols={n_symbols}, "
                         f"delay={delay}, m={m}")
    rng = rng if rng is not None else np.random.default_rng()
    T_x = delay + 1
    symbols = rng.integers(0, n_symbols, size=(m, T_x))
    x = np.zeros((n_symbols + 1, m, T_x))
    examples = np.arange(m)
    for t in range(T_x):
        x[symbols[:, t], examples, t] = 1.0
    x[n_symbols, :, 0] = 1.0
    return x, symbols[:, 0].copy()


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


def init_parameters(kind, n_x, n_a, n_y, rng, forget_bias=5.0, update_bias=0.0):
    r"""Random initial parameters in the course's layout.

    Weights are drawn from :math:`\mathcal N(0, 1/\text{fan-in})`, biases are
    zero, except the LSTM's forget-gate bias, which starts at ``forget_bias``
    so that the new LSTM keeps its memory (:math:`\sigma(5) \approx 0.993`)
    until it learns what to forget.

    Parameters
    ----------
    kind : {"rnn", "lstm"}
    n_x, n_a, n_y : int
        Input size, hidden size, number of classes.
    rng : numpy.random.Generator
    forget_bias : float
        Initial value of every entry of ``bf`` (LSTM only).

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
        ``rnncourse.reference.load()``, or your own).
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

    def loss_and_gradients(self, x, y):
        """Loss and the gradient of every parameter, by the course's backward pass.

        Parameters
        ----------
        x : ndarray, shape (n_x, m, T_x)
        y : ndarray of int, shape (m,)

        Returns
        -------
        loss : float
        grads : dict
            One entry per parameter, same key and shape.
        dx : ndarray, shape (n_x, m, T_x)
            Gradient of the loss with respect to every input.
        """
        p = self.parameters
        a, _, caches = self.forward(x)
        a_last = a[:, :, -1]
        loss, _, dlogits = softmax_cross_entropy(output_layer(a_last, p[self.wy], p["by"]), y)
        # The loss sees only the last hidden state: da is zero at every other step.
        da = np.zeros_like(a)
        da[:, :, -1] = p[self.wy].T @ dlogits
        back = self.backward_fn(da, caches)
        grads = {k: back["d" + k] for k in p if "d" + k in back}
        grads[self.wy] = dlogits @ a_last.T
        grads["by"] = dlogits.sum(axis=1, keepdims=True)
        return loss, grads, back["dx"]

    def input_gradient_norms(self, x, y):
        r"""How much gradient reaches each time step: :math:`\|\partial L / \partial x^{\langle t \rangle}\|`.

        Returns
        -------
        norms : ndarray, shape (T_x,)
            Norm over the input features and the examples of each step.
        """
        dx = self.loss_and_gradients(x, y)[2]
        return np.sqrt(np.sum(dx * dx, axis=(0, 1)))

    def gates(self, x, example=0):
        """The LSTM's gates and states over time for one example, read from the caches.

        Returns
        -------
        series : dict of str -> ndarray, each shape (n_a, T_x)
            forget, update, output, candidate, cell, hidden.
        """
        if self.kind != "lstm":
            raise ValueError("gates() needs an LSTM model")
        a, c, caches = self.forward(x)
        cells = caches[0]
        # cache = (a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, parameters)
        return {
            "forget": np.stack([k[4][:, example] for k in cells], axis=1),
            "update": np.stack([k[5][:, example] for k in cells], axis=1),
            "output": np.stack([k[7][:, example] for k in cells], axis=1),
            "candidate": np.stack([k[6][:, example] for k in cells], axis=1),
            "cell": c[:, example, :],
            "hidden": a[:, example, :],
        }


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    """Everything that determines a training run (and so its result)."""

    n_symbols: int = 4
    delay: int = 60
    n_a: int = 16
    batch: int = 64
    iterations: int = 800
    learning_rate: float = 0.01
    clip: float = 1.0
    forget_bias: float = 5.0
    update_bias: float = 0.0
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
    kw = {"n_symbols": config.n_symbols, "delay": config.delay}
    valid = recall_task(config.n_valid, rng=rngs[0], **kw)
    test = recall_task(config.n_test, rng=rngs[1], **kw)
    return valid, test, rngs[2]


def new_model(kind, ref, config):
    """A freshly initialised model of ``kind`` for ``config`` (seeded: the same every time)."""
    rng = np.random.default_rng([config.seed, 1 if kind == "rnn" else 2])
    n_x = config.n_symbols + 1
    params = init_parameters(kind, n_x, config.n_a, config.n_symbols, rng, config.forget_bias,
                             config.update_bias)
    return Model(kind, ref, params)


def train(model, config, progress=True):
    """Train ``model`` on the recall task with Adam and gradient clipping.

    Parameters
    ----------
    model : Model
    config : Config
    progress : bool
        Print the validation accuracy now and then.

    Returns
    -------
    history : History
        Training loss per iteration, validation accuracy every
        ``config.eval_every`` iterations (with the seconds elapsed then),
        wall-clock seconds in all (validation included).
    """
    (x_valid, y_valid), _, batches = data(config)
    optimiser = Adam(model.parameters, learning_rate=config.learning_rate)
    history = History()
    start = time.perf_counter()
    for it in range(1, config.iterations + 1):
        x, y = recall_task(config.batch, config.n_symbols, config.delay, rng=batches)
        loss, grads, _ = model.loss_and_gradients(x, y)
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


def plot_gradient_norms(norms, dpi=72):
    r"""Gradient norm :math:`\|\partial L / \partial x^{\langle t \rangle}\|` per time step, log scale.

    Parameters
    ----------
    norms : dict of label -> ndarray, shape (T_x,)
        Labels starting with "RNN" or "LSTM" get that model's colour;
        labels containing "init" are dashed.
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=dpi)
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


def plot_memory_gates(series, x, dpi=72):
    """A trained LSTM on one sequence: input, update gate, forget gate, what is written, cell state.

    Parameters
    ----------
    series : dict
        From :meth:`Model.gates` (one example).
    x : ndarray, shape (n_x, T_x)
        That example's input (the symbols, then the cue flag as the last row).

    Returns
    -------
    fig : matplotlib Figure
    """
    import matplotlib.pyplot as plt

    T_x = x.shape[1]
    t = np.arange(1, T_x + 1)
    extent = (0.5, T_x + 0.5, series["cell"].shape[0] - 0.5, -0.5)
    fig, axes = plt.subplots(5, 2, figsize=(9.5, 9), dpi=dpi, sharex="col",
                             gridspec_kw={"height_ratios": [0.8, 1.2, 1, 1.2, 1.2], "width_ratios": [40, 1]})

    def heat(row, values, title, cmap, vmin, vmax):
        im = axes[row, 0].imshow(values, aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax,
                                 interpolation="nearest", extent=extent)
        axes[row, 0].set_ylabel("unit")
        axes[row, 0].set_title(title)
        fig.colorbar(im, cax=axes[row, 1])

    axes[0, 0].imshow(x, aspect="auto", cmap="Greys", interpolation="nearest",
                      extent=(0.5, T_x + 0.5, x.shape[0] - 0.5, -0.5))
    axes[0, 0].set_yticks(range(x.shape[0]))
    axes[0, 0].set_yticklabels([f"symbol {i}" for i in range(x.shape[0] - 1)] + ["cue"], fontsize="small")
    axes[0, 0].set_title("input: recall the symbol shown with the cue, after the last step")
    axes[0, 1].axis("off")
    heat(1, series["update"], r"update gate $\Gamma_u$ (how much is written)", "viridis", 0, 1)
    f = series["forget"]
    axes[2, 0].fill_between(t, f.min(axis=0), f.max(axis=0), color="0.8", label="min to max over units")
    axes[2, 0].plot(t, f.mean(axis=0), color="k", lw=2, label="mean over units")
    axes[2, 0].set_ylim(min(0.8, float(f.min()) - 0.02), 1.01)
    axes[2, 0].set_title(r"forget gate $\Gamma_f$ (how much is kept)")
    axes[2, 0].legend(loc="lower right", fontsize="small")
    axes[2, 1].axis("off")
    write = series["update"] * series["candidate"]
    lim = float(np.max(np.abs(write))) or 1.0
    heat(3, write, r"written into the memory, $\Gamma_u \odot \tilde c$", "RdBu_r", -lim, lim)
    lim = float(np.max(np.abs(series["cell"]))) or 1.0
    heat(4, series["cell"], "cell state $c$ (the memory)", "RdBu_r", -lim, lim)
    axes[4, 0].set_xlabel("time step t")
    fig.tight_layout()
    return fig
