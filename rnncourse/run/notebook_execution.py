"""Execute one notebook in a started kernel, as nbgrader's ``Execute`` would, under a total time limit.

:func:`execute_notebook` runs every cell (errors allowed, each cell's output capped), kills the
kernel when the whole notebook's budget runs out, then applies nbgrader's ``IgnorePattern`` and
``LimitOutput`` and the cap on every output kind. A hostile or broken notebook never raises out
of it: what went wrong comes back as a sentence.
"""

import threading
import time
import traceback


def executor(execute, output_bytes):
    """nbgrader's ``Execute`` preprocessor with a per-cell cap on output size."""
    from rnncourse.run.capped_execute import CappedExecute

    ep = CappedExecute(
        timeout=execute["timeout"], interrupt_on_timeout=execute["interrupt_on_timeout"],
        startup_timeout=execute["startup_timeout"], iopub_timeout=execute["iopub_timeout"],
        raise_on_iopub_timeout=execute["raise_on_iopub_timeout"], allow_errors=True,
        kernel_name=execute["kernel_name"])
    ep.output_limit = int(output_bytes)
    return ep


def postprocess(nb, execute, output_bytes):
    """nbgrader's ``IgnorePattern`` and ``LimitOutput`` with the course's options, then the output cap."""
    from nbgrader.preprocessors import IgnorePattern, LimitOutput

    from rnncourse.run import outputcap

    resources = {}
    if execute["ignore_enabled"] and execute["ignore_pattern"]:
        nb, resources = IgnorePattern(pattern=execute["ignore_pattern"]).preprocess(nb, resources)
    nb, resources = LimitOutput(max_lines=execute["max_lines"],
                                max_traceback=execute["max_traceback"]).preprocess(nb, resources)
    # Every output kind of every cell within output_bytes (outputcap.cap_notebook).
    return outputcap.cap_notebook(nb, output_bytes)


class Progress:
    """The executor's hooks: when the kernel was ready, and which cell runs.

    Attributes
    ----------
    ready : float or None
        ``time.monotonic()`` when the notebook started (the kernel answered).
    cell : int or None
        Index of the cell started last.
    """

    def __init__(self):
        self.ready = None
        self.cell = None

    def notebook_started(self, notebook):
        self.ready = time.monotonic()

    def cell_started(self, cell, cell_index):
        self.cell = cell_index


class Watchdog:
    """Kills ``kernel`` after ``seconds`` unless cancelled first (a context manager).

    Attributes
    ----------
    expired : threading.Event
        Set when the time ran out (before the kernel is killed).
    """

    def __init__(self, kernel, seconds):
        self.kernel = kernel
        self.expired = threading.Event()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def _expire(self):
        self.expired.set()
        self.kernel.kill()

    def __enter__(self):
        self._timer.start()
        return self

    def __exit__(self, *exc_info):
        self._timer.cancel()
        return False


def _preprocess(ep, nb, kernel):
    """Run the cells; None, or what stopped them."""
    from nbclient.exceptions import DeadKernelError

    try:
        ep.preprocess(nb, {"metadata": {"path": kernel.workdir}}, km=kernel.km)
    except DeadKernelError:
        return "the kernel died"
    except Exception as exc:  # a hostile or broken notebook must not stop the worker
        error = f"execution stopped: {type(exc).__name__}: {exc}"
        if not str(exc):
            error += traceback.format_exc(limit=2)
        return error
    return None


def _stop_channels(ep):
    try:
        if ep.kc is not None:
            ep.kc.stop_channels()
    except Exception:
        pass


def describe_stop(error, expired, cell, nb, total_timeout):
    """The sentence the student reads about why the run stopped (or ``error`` as it is)."""
    if expired:
        return (f"stopped after the time limit of {total_timeout:g} s for the whole "
                "notebook (cells not reached are scored by the re-check alone)")
    if error is not None and cell is not None:
        error += f" while running cell {cell}" + cell_label(nb, cell)
        if error.startswith("the kernel died"):
            error += (" (the code exited the kernel, crashed it or ran out of memory); "
                      "cells not reached are scored by the re-check alone")
    return error


def cell_label(nb, index):
    """`` (grade_id)`` of cell ``index`` of ``nb``, or an empty string."""
    try:
        gid = nb.cells[index].metadata.get("nbgrader", {}).get("grade_id")
    except (IndexError, AttributeError):
        return ""
    return f" ({gid})" if gid else ""


def execute_notebook(notebook, spec, kernel, timings):
    """Execute ``notebook`` in ``kernel``; ``(executed JSON or None, error or None)``.

    Parameters
    ----------
    notebook : str
        The sanitized notebook's JSON.
    spec : rnncourse.run.kernel.KernelSpec
    kernel : rnncourse.run.kernel.Kernel
        Started, and used for this notebook only.
    timings : dict
        Gets ``kernel_wait``, ``cells`` and ``execute`` (seconds).
    """
    import nbformat

    from rnncourse.sandbox import Limits

    limits = Limits.from_dict(spec.limits)
    try:
        nb = nbformat.v4.reads(notebook)
    except (ValueError, TypeError, RecursionError) as exc:
        return None, f"the notebook could not be read: {exc}"
    ep = executor(spec.execute, limits.output_bytes)
    progress = Progress()
    ep.on_notebook_start = progress.notebook_started
    ep.on_cell_start = progress.cell_started
    t = time.monotonic()
    try:
        with Watchdog(kernel, max(1.0, limits.total_timeout - kernel.age())) as watchdog:
            error = _preprocess(ep, nb, kernel)
    finally:
        _stop_channels(ep)
    end = time.monotonic()
    if progress.ready is not None:
        timings["kernel_wait"] = round(progress.ready - t, 4)
        timings["cells"] = round(end - progress.ready, 4)
    timings["execute"] = round(end - t, 4)
    error = describe_stop(error, watchdog.expired.is_set(), progress.cell, nb, limits.total_timeout)
    nb = postprocess(nb, spec.execute, limits.output_bytes)
    return nbformat.writes(nb), error
