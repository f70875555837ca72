"""The self-study's figures: learning curves, the gradient reaching each step, an LSTM's gates.

matplotlib is imported when a figure is drawn, not before.
"""

import numpy as np

from rnncourse.selfstudy.memory_task import cue_steps

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
