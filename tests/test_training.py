"""rnncourse.selfstudy.training: Adam, gradient clipping, the seeded data and the training loop."""

import numpy as np
import pytest

from rnncourse.selfstudy import training


def test_adam_first_step_moves_each_weight_by_the_learning_rate_against_its_gradient():
    w = {"a": np.array([1.0, -2.0, 3.0])}
    opt = training.Adam(w, learning_rate=0.1)
    opt.step({"a": np.array([4.0, -0.5, 0.0])})
    # At step 1 the bias-corrected moments are g and g^2: the step is lr * g / (|g| + eps).
    np.testing.assert_allclose(w["a"], [0.9, -1.9, 3.0], atol=1e-7)
    opt.step({"a": np.array([4.0, -0.5, 0.0])})
    np.testing.assert_allclose(w["a"], [0.8, -1.8, 3.0], atol=1e-7)
    assert opt.k == 2


def test_clip_by_global_norm_scales_all_gradients_together():
    grads = {"a": np.array([3.0]), "b": np.array([[4.0]])}
    same, norm = training.clip_by_global_norm(grads, 10.0)
    assert same is grads and norm == pytest.approx(5.0)
    clipped, norm = training.clip_by_global_norm(grads, 1.0)
    assert norm == pytest.approx(5.0)
    np.testing.assert_allclose(clipped["a"], [0.6])
    np.testing.assert_allclose(clipped["b"], [[0.8]])


def test_data_and_new_model_are_the_same_for_the_same_config(ref):
    config = training.Config(delay=4, cue_window=2, n_a=3, n_valid=7, n_test=9)
    (xv, yv), (xt, yt), batches = training.data(config)
    assert xv.shape == (config.n_symbols + 2, 7, 6) and xt.shape[1] == 9
    again = training.data(config)
    np.testing.assert_array_equal(again[0][0], xv)
    assert not np.array_equal(again[1][0][:, :7], xv)  # test and validation sets differ
    other = training.data(training.Config(delay=4, cue_window=2, seed=1, n_valid=7))
    assert not np.array_equal(other[0][0], xv)
    a, b = training.new_model("lstm", ref, config), training.new_model("lstm", ref, config)
    assert a.kind == "lstm" and a.n_a == 3
    for k in a.parameters:
        np.testing.assert_array_equal(a.parameters[k], b.parameters[k])
    rnn = training.new_model("rnn", ref, config)
    assert rnn.kind == "rnn" and rnn.parameters["Wax"].shape == (3, config.n_symbols + 2)


def test_train_records_every_iteration_and_each_evaluation(ref, capsys):
    config = training.Config(delay=3, cue_window=2, n_a=4, batch=16, iterations=30, eval_every=10,
                             n_valid=20, n_test=20)
    model = training.new_model("lstm", ref, config)
    before = {k: v.copy() for k, v in model.parameters.items()}
    history = training.train(model, config, progress=False)
    assert history.iteration == list(range(1, 31)) and len(history.loss) == 30
    assert history.eval_iteration == [10, 20, 30] and len(history.valid_accuracy) == 3
    assert history.eval_seconds == sorted(history.eval_seconds)
    assert history.seconds >= history.eval_seconds[-1]
    assert all(np.isfinite(history.loss))
    assert any(not np.array_equal(before[k], model.parameters[k]) for k in before)
    assert capsys.readouterr().out == ""


def test_history_first_reached():
    h = training.History(eval_iteration=[10, 20, 30], valid_accuracy=[0.3, 0.9, 0.95],
                         eval_seconds=[1.0, 2.0, 3.0])
    assert h.first_reached(0.9) == (20, 2.0)
    assert h.first_reached(0.99) is None
