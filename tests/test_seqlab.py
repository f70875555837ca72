"""rnncourse.selfstudy.seqlab, the training code of notebook 2: the task, the objective's gradient,
the gates."""

import numpy as np
import pytest

from rnncourse.selfstudy import seqlab


def test_recall_task_has_one_cue_in_its_window_and_a_query_at_the_end():
    n_symbols, delay, cue_window, m = 4, 7, 3, 200
    x, y = seqlab.recall_task(m, n_symbols, delay, cue_window, rng=np.random.default_rng(0))
    T_x = cue_window + delay
    assert x.shape == (n_symbols + 2, m, T_x) and y.shape == (m,)
    np.testing.assert_array_equal(x[:n_symbols].sum(axis=0), 1.0)      # one symbol per step
    np.testing.assert_array_equal(x[n_symbols].sum(axis=1), 1.0)       # one cue per sequence
    cue = seqlab.cue_steps(x)
    assert cue.min() == 0 and cue.max() == cue_window - 1               # anywhere in its window
    assert (T_x - 1 - cue >= delay).all()
    np.testing.assert_array_equal(x[n_symbols + 1, :, -1], 1.0)         # the query, last step only
    assert x[n_symbols + 1, :, :-1].sum() == 0
    np.testing.assert_array_equal(y, np.argmax(x[:n_symbols, np.arange(m), cue], axis=0))


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_gradients_of_cross_entropy_plus_activity_penalty(kind, ref):
    """The gradients match finite differences of J = cross-entropy + penalty."""
    rng = np.random.default_rng(1)
    n_symbols, n_a, penalty = 3, 4, 0.7
    x, y = seqlab.recall_task(5, n_symbols, delay=4, cue_window=2, rng=rng)
    params = seqlab.init_parameters(kind, x.shape[0], n_a, n_symbols, rng, forget_bias=1.0,
                                    update_bias=-0.5, output_bias=0.5)
    model = seqlab.Model(kind, ref, params)

    def objective():
        a = model.forward(x)[0]
        loss = seqlab.softmax_cross_entropy(model.logits(x), y)[0]
        m, T_x = x.shape[1:]
        return loss + penalty / (m * (T_x - 1)) * float(np.sum(a[:, :, :-1] ** 2))

    loss, grads, _ = model.loss_and_gradients(x, y, penalty)
    assert loss == pytest.approx(seqlab.softmax_cross_entropy(model.logits(x), y)[0])
    eps = 1e-6
    for key, w in params.items():
        for index in list(np.ndindex(w.shape))[::3]:
            old = w[index]
            w[index] = old + eps
            up = objective()
            w[index] = old - eps
            down = objective()
            w[index] = old
            assert grads[key][index] == pytest.approx((up - down) / (2 * eps), rel=1e-4, abs=1e-8), \
                (key, index)


def test_gates_memory_units_and_summary(ref):
    config = seqlab.Config(delay=6, cue_window=3, n_a=5, n_valid=20, n_test=30)
    model = seqlab.new_model("lstm", ref, config)
    _, (x, _), _ = seqlab.data(config)
    series = model.gates(x)
    for key in ("forget", "update", "output", "candidate", "cell", "hidden"):
        assert series[key].shape == (config.n_a, x.shape[1], x.shape[2]), key
    units = model.memory_units(x, k=2)
    assert len(set(units.tolist())) == 2
    summary = seqlab.gate_summary(series, x, units)
    assert all(0.0 <= v <= 1.0 for v in summary.values())
    # Fresh gates rest at their biases: forget ~ sigma(5), update and output ~ sigma(-3).
    assert summary["forget_delay_min"] > 0.9 and summary["update_delay"] < 0.2
