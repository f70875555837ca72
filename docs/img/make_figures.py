"""Make the README's figures (docs/img/*.png) with the code of notebook 2.

Runs the experiment of ``notebooks/02_why_lstms_remember.ipynb`` in its
default configuration (seeded, so the figures are the same every time, up to
the timings) and saves three of its plots, kept small for the README.

    make figures        # or: .venv/bin/python docs/img/make_figures.py
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from rnncourse.content import reference  # noqa: E402
from rnncourse.selfstudy import seqlab

OUT = Path(__file__).resolve().parent
MAX_BYTES = 150_000


def main():
    ref = reference.load()
    config = seqlab.Config()
    _, (x_test, y_test), _ = seqlab.data(config)
    probe = (x_test[:, :256], y_test[:256])
    models = {kind: seqlab.new_model(kind, ref, config) for kind in ("rnn", "lstm")}
    norms = {f"{kind.upper()} at init": m.input_gradient_norms(*probe) for kind, m in models.items()}
    histories = {kind: seqlab.train(m, config, progress=False) for kind, m in models.items()}
    norms.update({f"{kind.upper()} trained": m.input_gradient_norms(*probe) for kind, m in models.items()})
    for kind, m in models.items():
        reached = histories[kind].first_reached(0.95)
        print(f"{kind.upper():4} test accuracy {m.accuracy(x_test, y_test):.3f}, "
              f"training {histories[kind].seconds:.1f} s, 95 % validation accuracy "
              + (f"after {reached[0]} iterations ({reached[1]:.1f} s)" if reached else "never"))
    for kind in models:
        init, trained = norms[f"{kind.upper()} at init"], norms[f"{kind.upper()} trained"]
        print(f"{kind.upper():4} gradient norm ratio first/last step: {init[0] / init[-1]:.1e} at init, "
              f"{trained[0] / trained[-1]:.1e} trained")
    lstm, x = models["lstm"], x_test[:, :200]
    units = lstm.memory_units(x)
    series = lstm.gates(x)
    summary = seqlab.gate_summary(series, x, units)
    print(f"LSTM memory units {[int(j) for j in units]} on 200 test sequences: "
          + ", ".join(f"{k} {v:.4f}" for k, v in summary.items()))

    figures = {
        "gradient_norms.png": seqlab.plot_gradient_norms(norms, config.cue_window, dpi=80),
        "learning_curves.png": seqlab.plot_learning_curves(histories, 1 / config.n_symbols, dpi=80),
        "lstm_gates.png": seqlab.plot_memory_gates(series, x, units, example=0, dpi=72),
    }
    for name, fig in figures.items():
        path = OUT / name
        fig.savefig(path, metadata={"Software": None})
        size = path.stat().st_size
        print(f"wrote {path.relative_to(OUT.parent.parent)} ({size // 1000} kB)")
        if size > MAX_BYTES:
            raise SystemExit(f"{name} is {size} bytes, more than {MAX_BYTES}: lower its dpi")


if __name__ == "__main__":
    main()
