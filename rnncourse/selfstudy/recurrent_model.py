"""The two models of the self-study: the course's RNN or LSTM with an output layer on the last step.

The recurrent part is exactly the course's reference functions (``rnn_forward``/``rnn_backward``,
``lstm_forward``/``lstm_backward``, or your own); this module adds the output layer
(:func:`output_layer`), the softmax cross-entropy (:func:`softmax_cross_entropy`), the penalty on
the hidden state before the answer (:meth:`Model.loss_and_gradients`), and what the notebook
measures on a model: gradient per step, gates, memory units (:func:`gate_summary`).

Shapes follow the course: ``x`` is ``(n_x, m, T_x)``, hidden states are ``(n_a, m, T_x)``.
"""

import numpy as np

from rnncourse.selfstudy.memory_task import cue_steps


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
