"""rnncourse.selfstudy.recurrent_model: the objective's gradient, the output layer, the gates."""

import numpy as np
import pytest

from rnncourse.selfstudy import memory_task, training
from rnncourse.selfstudy import recurrent_model as rm


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_gradients_of_cross_entropy_plus_activity_penalty(kind, ref):
    """The gradients match finite differences of J = cross-entropy + penalty."""
    rng = np.random.default_rng(1)
    n_symbols, n_a, penalty = 3, 4, 0.7
    x, y = memory_task.recall_task(5, n_symbols, delay=4, cue_window=2, rng=rng)
    params = rm.init_parameters(kind, x.shape[0], n_a, n_symbols, rng, forget_bias=1.0,
                                    update_bias=-0.5, output_bias=0.5)
    model = rm.Model(kind, ref, params)

    def objective():
        a = model.forward(x)[0]
        loss = rm.softmax_cross_entropy(model.logits(x), y)[0]
        m, T_x = x.shape[1:]
        return loss + penalty / (m * (T_x - 1)) * float(np.sum(a[:, :, :-1] ** 2))

    loss, grads, _ = model.loss_and_gradients(x, y, penalty)
    assert loss == pytest.approx(rm.softmax_cross_entropy(model.logits(x), y)[0])
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
    config = training.Config(delay=6, cue_window=3, n_a=5, n_valid=20, n_test=30)
    model = training.new_model("lstm", ref, config)
    _, (x, _), _ = training.data(config)
    series = model.gates(x)
    for key in ("forget", "update", "output", "candidate", "cell", "hidden"):
        assert series[key].shape == (config.n_a, x.shape[1], x.shape[2]), key
    units = model.memory_units(x, k=2)
    assert len(set(units.tolist())) == 2
    summary = rm.gate_summary(series, x, units)
    assert all(0.0 <= v <= 1.0 for v in summary.values())
    # Fresh gates rest at their biases: forget ~ sigma(5), update and output ~ sigma(-3).
    assert summary["forget_delay_min"] > 0.9 and summary["update_delay"] < 0.2


def test_softmax_cross_entropy_of_known_logits():
    logits = np.array([[0.0, 2.0], [np.log(3.0), 0.0]])  # column 0: p = (1/4, 3/4)
    loss, probs, dlogits = rm.softmax_cross_entropy(logits, np.array([1, 0]))
    np.testing.assert_allclose(probs.sum(axis=0), 1.0)
    np.testing.assert_allclose(probs[:, 0], [0.25, 0.75])
    p0 = np.exp(2.0) / (np.exp(2.0) + 1.0)
    assert loss == pytest.approx(-(np.log(0.75) + np.log(p0)) / 2)
    np.testing.assert_allclose(dlogits[:, 0], [0.25 / 2, (0.75 - 1) / 2])
    # Large logits do not overflow (the softmax is shifted by the column's maximum).
    loss, probs, _ = rm.softmax_cross_entropy(np.array([[1000.0], [0.0]]), np.array([0]))
    assert np.isfinite(loss) and loss == pytest.approx(0.0)


def test_init_parameters_layout_and_gate_biases():
    rng = np.random.default_rng(0)
    p = rm.init_parameters("lstm", 6, 5, 4, rng, forget_bias=5.0, update_bias=-3.0, output_bias=-2.0)
    assert {k: v.shape for k, v in p.items()} == {
        **{"W" + g: (5, 11) for g in "fico"}, **{"b" + g: (5, 1) for g in "fico"},
        "Wy": (4, 5), "by": (4, 1)}
    assert (p["bf"] == 5.0).all() and (p["bi"] == -3.0).all() and (p["bo"] == -2.0).all()
    assert (p["bc"] == 0.0).all()
    p = rm.init_parameters("rnn", 6, 5, 4, rng)
    assert sorted(p) == ["Waa", "Wax", "Wya", "ba", "by"] and p["Wax"].shape == (5, 6)
    with pytest.raises(ValueError, match="'gru'"):
        rm.init_parameters("gru", 6, 5, 4, rng)
    with pytest.raises(ValueError, match="'gru'"):
        rm.Model("gru", None, p)


def test_input_gradient_norms_and_memory_units(ref):
    rng = np.random.default_rng(3)
    x, y = memory_task.recall_task(8, 3, delay=5, cue_window=2, rng=rng)
    model = rm.Model("rnn", ref, rm.init_parameters("rnn", x.shape[0], 4, 3, rng))
    norms = model.input_gradient_norms(x, y)
    dx = model.loss_and_gradients(x, y)[2]
    assert norms.shape == (x.shape[2],)
    np.testing.assert_allclose(norms[-1], np.linalg.norm(dx[:, :, -1]))
    with pytest.raises(ValueError, match="LSTM"):
        model.gates(x)
    # Silence every unit but one in the output layer: it is the one the answer depends on.
    model.parameters["Wya"][:, [0, 1, 3]] = 0.0
    assert model.memory_units(x, k=1).tolist() == [2]
