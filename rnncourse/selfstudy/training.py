"""Training a self-study model on the recall task: the configuration, the data, Adam, the loop.

:class:`Config` holds every number that shapes a run (and so its result); :func:`data` and
:func:`new_model` are seeded from it, so the same configuration gives the same run.
"""

import time
from dataclasses import dataclass, field

import numpy as np

from rnncourse.selfstudy.memory_task import recall_task
from rnncourse.selfstudy.recurrent_model import Model, init_parameters


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
