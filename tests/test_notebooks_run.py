"""Every self-study notebook in notebooks/ runs top to bottom without an error.

Each notebook is executed by nbclient with the python3 kernel of this
environment, from a copy in a temporary folder (as a learner's fresh copy
would run; the committed file is never written). Notebook 2 runs its full
default configuration and must show the LSTM remembering and the RNN not, and
the trained LSTM's update gate opening at the cue while its forget gate holds.
"""

import re
import shutil
from pathlib import Path

import nbformat
import pytest
from jupyter_client import KernelManager
from nbclient import NotebookClient

pytestmark = [pytest.mark.slow]

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    names = [p.name for p in NOTEBOOKS]
    assert any("gate" in n for n in names) and any("remember" in n for n in names) \
        and any("gradient" in n for n in names), names


def _run(path, tmp_path):
    copy = tmp_path / path.name
    shutil.copy2(path, copy)
    nb = nbformat.read(copy, as_version=4)
    # IPC sockets in the test's folder: no TCP ports to race for with other kernels.
    km = KernelManager(kernel_name="python3", transport="ipc", ip=str(tmp_path / "kernel"))
    try:
        NotebookClient(nb, km=km, timeout=300, startup_timeout=120,
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
    finally:  # nbclient leaves a kernel manager it was given running
        if km.has_kernel:
            km.shutdown_kernel(now=True)
    return nb


def _text(nb):
    """All stdout of all cells."""
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.outputs if o.output_type == "stream" and o.name == "stdout")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path):
    nb = _run(path, tmp_path)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        assert cell.execution_count is not None, f"cell {i} did not run"
        for out in cell.outputs:
            assert out.output_type != "error", f"cell {i}: {out.ename}: {out.evalue}"
            assert not (out.output_type == "stream" and out.name == "stderr"), \
                f"cell {i} wrote to stderr: {out.text[:500]}"
    images = sum("image/png" in o.get("data", {})
                 for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert images >= 2, f"{path.name}: only {images} plots"

    if "remember" in path.name:
        out = _text(nb)
        acc = {k: float(v) for k, v in re.findall(r"^(LSTM|RNN)\s+test accuracy: ([0-9.]+)", out, re.M)}
        assert set(acc) == {"LSTM", "RNN"}, out[-2000:]
        shown = [line for line in out.splitlines()
                 if "accuracy" in line or " trained" in line or " gate" in line]
        print("\n" + "\n".join(shown))
        assert acc["LSTM"] >= 0.95
        assert acc["RNN"] <= 0.40, "the RNN should stay near chance (0.25) on a delay of 50 steps or more"
        ratios = dict(re.findall(r"^\s+(RNN|LSTM)\s*: \S+ at init, (\S+) trained", out, re.M))
        assert float(ratios["RNN"]) < 1e-4 < float(ratios["LSTM"]), ratios
        # The trained LSTM's memory units: the update gate opens at the cue and is shut
        # otherwise, the forget gate holds near 1 from the cue to the query.
        update = re.search(r"update gate: (\S+) before the cue, (\S+) at the cue, (\S+) during the delay",
                           out)
        forget = re.search(r"forget gate after the cue, up to the query: mean (\S+), lowest (\S+)", out)
        before, at_cue, during = map(float, update.groups())
        assert at_cue > 0.5 and before < 0.1 and during < 0.1, update.group(0)
        assert float(forget.group(2)) > 0.99, forget.group(0)
