"""Make the README's figures (docs/img/*.png) with the code of notebook 2.

Runs the experiment of ``notebooks/02_why_lstms_remember.ipynb`` in its
default configuration (seeded, so the figures are the same every time, up to
the timings) and saves three of its plots, kept small for the README.

    make figures        # or: .venv/bin/python docs/img/make_figures.py
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from rnncourse import reference, seqlab  # noqa: E402

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
        print(f"{kind.upper():4} test accuracy {m.accuracy(x_test, y_test):.3f}, "
              f"training {histories[kind].seconds:.1f} s")

    figures = {
        "gradient_norms.png": seqlab.plot_gradient_norms(norms, dpi=80),
        "learning_curves.png": seqlab.plot_learning_curves(histories, 1 / config.n_symbols, dpi=80),
        "lstm_gates.png": seqlab.plot_memory_gates(models["lstm"].gates(x_test[:, :1]), x_test[:, 0, :],
                                                   dpi=72),
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
