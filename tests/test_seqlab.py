"""rnncourse.selfstudy.seqlab, notebook 2's one import: every name its users call is there."""

import ast
import json

from rnncourse.selfstudy import memory_task, recurrent_model, seqlab, training, training_plots


def _names_used(source):
    """Every ``seqlab.NAME`` in ``source`` (IPython's magics and shell lines left out)."""
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
    return {node.attr for node in ast.walk(ast.parse(code))
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
            and node.value.id == "seqlab"}


def test_every_name_the_notebooks_and_figures_use_is_exported(root):
    used = set()
    for path in sorted((root / "notebooks").glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code":
                used |= _names_used("".join(cell["source"]))
    used |= _names_used((root / "docs" / "img" / "make_figures.py").read_text())
    assert {"Config", "data", "train", "new_model", "plot_memory_gates"} <= used  # the scan found them
    assert used <= set(seqlab.__all__), used - set(seqlab.__all__)


def test_the_facade_holds_the_modules_own_objects():
    for module in (memory_task, recurrent_model, training, training_plots):
        defined = [n for n, v in vars(module).items()
                   if getattr(v, "__module__", None) == module.__name__ and not n.startswith("_")]
        for name in defined:
            assert getattr(seqlab, name) is getattr(module, name), name
            assert name in seqlab.__all__, name
    assert seqlab.COLOURS is training_plots.COLOURS
