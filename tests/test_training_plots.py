"""rnncourse.selfstudy.training_plots: what each of notebook 2's figures draws."""

import matplotlib
import numpy as np
import pytest

from rnncourse.selfstudy import memory_task, training_plots
from rnncourse.selfstudy.training import History

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def test_learning_curves_smooth_the_loss_and_draw_chance():
    h = History(iteration=list(range(1, 41)), loss=list(np.linspace(2.0, 0.1, 40)),
                eval_iteration=[20, 40], valid_accuracy=[0.4, 0.8])
    fig = training_plots.plot_learning_curves({"rnn": h, "lstm": h}, chance=0.25)
    ax_loss, ax_acc = fig.axes
    rnn = ax_loss.get_lines()[0]
    assert len(rnn.get_xdata()) == 40 - 25 + 1  # a moving average over 25 iterations
    assert rnn.get_color() == training_plots.COLOURS["rnn"]
    chance = [line for line in ax_acc.get_lines() if line.get_label() == "chance"]
    assert len(chance) == 1 and list(chance[0].get_ydata()) == [0.25, 0.25]


def test_gradient_norms_colour_by_model_and_dash_the_initial_ones():
    fig = training_plots.plot_gradient_norms(
        {"LSTM trained": np.ones(6), "RNN at init": np.array([1.0, 0.0, 1e-3, 1, 1, 1])}, cue_window=2)
    ax = fig.axes[0]
    lstm, rnn = ax.get_lines()
    assert lstm.get_color() == training_plots.COLOURS["lstm"] and lstm.get_linestyle() == "-"
    assert rnn.get_linestyle() == "--"
    assert (rnn.get_ydata() > 0).all()  # a zero norm is drawn, not dropped, on the log scale
    assert ax.get_yscale() == "log"


def test_memory_gates_mark_the_cue_of_the_example_drawn():
    x, _ = memory_task.recall_task(2, 3, delay=4, cue_window=3, rng=np.random.default_rng(0))
    T_x = x.shape[2]
    series = {k: np.full((4, 2, T_x), 0.5) for k in ("update", "forget", "output", "cell")}
    fig = training_plots.plot_memory_gates(series, x, [0, 2], example=1)
    assert len(fig.axes) == 5
    cue = int(memory_task.cue_steps(x)[1]) + 1
    assert f"(step {cue})" in fig.axes[0].get_title()
    assert len([line for line in fig.axes[1].get_lines() if line.get_label().startswith("unit")]) == 2
