"""Committed notebooks carry no outputs and minimal metadata.

``python -m rnncourse.cli check-notebooks`` reports offenders (CI runs it);
``python -m rnncourse.cli clean-notebooks`` fixes them in place.
"""

import subprocess

import nbformat

from rnncourse import paths

NOTEBOOK_KEYS = {"kernelspec", "language_info"}
CELL_KEYS = {"nbgrader", "deletable", "editable", "tags"}


def tracked_notebooks(root=None):
    """Notebooks git tracks (or, outside git, those under source/, release/, notebooks/)."""
    root = root or paths.course_root()
    try:
        out = subprocess.run(["git", "ls-files", "*.ipynb"], cwd=root, capture_output=True,
                             text=True, check=True).stdout.split()
        found = [root / p for p in out]
    except (OSError, subprocess.CalledProcessError):
        found = []
    if not found:
        found = [p for d in ("source", "release", "notebooks") for p in (root / d).rglob("*.ipynb")
                 if ".ipynb_checkpoints" not in p.parts]
    return sorted(p for p in found if p.exists())


def problems(path):
    """What is not clean in one notebook (empty list when clean)."""
    nb = nbformat.read(str(path), as_version=4)
    found = []
    extra = set(nb.metadata) - NOTEBOOK_KEYS
    if extra:
        found.append(f"notebook metadata has {sorted(extra)}")
    for i, cell in enumerate(nb.cells):
        if cell.get("outputs"):
            found.append(f"cell {i} has outputs")
        if cell.get("execution_count") is not None:
            found.append(f"cell {i} has an execution count")
        extra = set(cell.metadata) - CELL_KEYS
        if extra:
            found.append(f"cell {i} metadata has {sorted(extra)}")
    return found


def clean(path):
    nb = nbformat.read(str(path), as_version=4)
    nb.metadata = {k: v for k, v in nb.metadata.items() if k in NOTEBOOK_KEYS}
    for cell in nb.cells:
        cell.metadata = {k: v for k, v in cell.metadata.items() if k in CELL_KEYS}
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nbformat.write(nb, str(path))
