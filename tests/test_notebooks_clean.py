"""Committed notebooks have no outputs and only minimal metadata."""

from rnncourse.authoring import notebooks


def test_committed_notebooks_are_clean():
    found = notebooks.tracked_notebooks()
    assert found, "no notebooks found"
    bad = {str(p): notebooks.problems(p) for p in found}
    assert not {p: v for p, v in bad.items() if v}


def test_checker_notices_outputs(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1", execution_count=1)])
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", text="x")]
    nb.metadata["widgets"] = {}
    path = tmp_path / "dirty.ipynb"
    nbformat.write(nb, str(path))
    assert len(notebooks.problems(path)) == 3
    notebooks.clean(path)
    assert notebooks.problems(path) == []
