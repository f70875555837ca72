"""rnncourse.run.notebook_execution: the cells under the time limits, and what the student reads."""

import json
import threading
import time

import nbformat
import pytest

from rnncourse.run import notebook_execution as ne
from rnncourse.run.kernel import Kernel, KernelSpec
from rnncourse.run.tasks import Task


def _notebook(*sources, grade_id=None):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    if grade_id:
        nb.cells[-1].metadata["nbgrader"] = {"grade_id": grade_id}
    return nb


def test_describe_stop_names_the_cell_and_what_happens_to_the_rest():
    nb = _notebook("1", "2", grade_id="lstm_backward_hidden")
    assert ne.describe_stop(None, False, 1, nb, 600) is None
    died = ne.describe_stop("the kernel died", False, 1, nb, 600)
    assert died.startswith("the kernel died while running cell 1 (lstm_backward_hidden) (the code exited")
    assert "scored by the re-check alone" in died
    stopped = ne.describe_stop("execution stopped: OSError: x", False, 0, nb, 600)
    assert stopped == "execution stopped: OSError: x while running cell 0"
    expired = ne.describe_stop("the kernel died", True, 1, nb, 12.5)
    assert expired.startswith("stopped after the time limit of 12.5 s for the whole notebook")
    assert ne.cell_label(nb, 7) == "" and ne.cell_label(nb, 0) == ""


class _Killable:
    def __init__(self):
        self.killed = threading.Event()

    def kill(self):
        self.killed.set()


def test_watchdog_kills_only_when_the_time_runs_out():
    slow = _Killable()
    with ne.Watchdog(slow, 0.2) as dog:
        assert slow.killed.wait(5)
    assert dog.expired.is_set()
    quick = _Killable()
    with ne.Watchdog(quick, 0.2) as dog:
        pass
    time.sleep(0.4)
    assert not quick.killed.is_set() and not dog.expired.is_set()


def test_postprocess_applies_nbgrader_limit_output_and_the_cap():
    nb = _notebook("print('x')")
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="line\n" * 50)]
    execute = {"ignore_enabled": False, "ignore_pattern": "", "max_lines": 10, "max_traceback": 5}
    out = ne.postprocess(nb, execute, 1024)
    text = "".join(o.get("text", "") for o in out.cells[0].outputs)
    assert text.count("line") < 10 and text.endswith("Output truncated ...")  # nbgrader's own notice


@pytest.fixture(scope="module")
def spec():
    return KernelSpec.from_task(Task.from_dict({"confine": False, "warm": False,
                                                "limits": {"total_timeout": 4}}))


@pytest.fixture(scope="module")
def roomy_spec():
    """Time enough for a kernel to start and run three cells on a busy machine."""
    return KernelSpec.from_task(Task.from_dict({"confine": False, "warm": False,
                                                "limits": {"total_timeout": 120}}))


def test_a_notebook_runs_on_past_an_error(roomy_spec):
    spec = roomy_spec
    kernel = Kernel(spec).start()
    try:
        timings = {}
        nb = _notebook("print('before')", "1 / 0", "print('after')")
        executed, error = ne.execute_notebook(nbformat.writes(nb), spec, kernel, timings)
    finally:
        kernel.close()
    assert error is None
    cells = json.loads(executed)["cells"]
    assert cells[1]["outputs"][0]["ename"] == "ZeroDivisionError"
    assert "".join(cells[2]["outputs"][0]["text"]) == "after\n"
    assert {"kernel_wait", "cells", "execute"} <= set(timings)


def test_the_whole_notebook_time_limit_stops_it(spec):
    kernel = Kernel(spec).start()
    try:
        nb = _notebook("import time\ntime.sleep(60)", "print('never')")
        t = time.monotonic()
        executed, error = ne.execute_notebook(nbformat.writes(nb), spec, kernel, {})
    finally:
        kernel.close()
    assert time.monotonic() - t < 30
    assert error.startswith("stopped after the time limit of 4 s"), error
    assert json.loads(executed)["cells"][1]["outputs"] == []


def test_an_unreadable_notebook_is_said_so(spec):
    executed, error = ne.execute_notebook("{not json", spec, kernel=None, timings={})
    assert executed is None and error.startswith("the notebook could not be read")
