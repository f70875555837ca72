"""Execution of one submission: ``execute_submission(task) -> result``, plain dicts both ways.

It runs wherever the coordinator (:mod:`rnncourse.run.runner`) sends it: in a
local worker process, or as a task on a Dask distributed cluster. The task
carries everything the submission needs (the sanitized notebook and the
released files), the result carries the executed notebook back; nothing here
touches the course directory or the gradebook.

What happens to one submission
------------------------------
1. A private working directory holds the released files only.
2. A fresh kernel runs the notebook like nbgrader's ``Execute`` preprocessor
   (its own class: same per-cell timeout, interrupt on timeout, errors
   allowed). By default the kernel is confined (:class:`rnncourse.sandbox.Sandbox`:
   own uid, namespaces, rlimits) and the hidden tests ask a judge
   (:class:`rnncourse.verdicts.judge.Judge`, trusted, in this process) for verdicts;
   the judge's record of those verdicts comes back too.
3. Before the kernel gets the notebook, :func:`rnncourse.verdicts.recheck.recheck`
   grades the student's functions in another fresh confined process, which
   is dead and torn down before the kernel runs any of the submission's code
   (the two never run at the same time: ``docs/isolation.md``).
4. Output floods are cut per cell, the whole submission has a wall-time
   limit, and at the end every process of the submission is killed and the
   working directory removed.

Speed
-----
Starting a kernel and importing numpy and matplotlib in it is paid once per
submission. Each worker process therefore starts the kernel for its *next*
submission while the current one runs ("prestart"), in that submission's own
fresh sandbox, working directory and judge, and the kernel imports numpy and
matplotlib and draws a throw-away figure (fonts, mathtext, colour maps) in
a private namespace before it reports ready. A kernel is used for exactly one
submission and never sees another student's code; a spare kernel that waited
too long is thrown away.

The parts
---------
:mod:`.tasks` (the task and result at the process boundary), :mod:`.kernel` (one kernel, its
sandbox and judge), :mod:`.kernel_pool` (the spares), :mod:`.notebook_execution` (the cells under
the time limits), :mod:`.trusted_reference` (loaded once per process), :mod:`.cpu_time`.
"""

import os
import socket
import threading
import time

import rnncourse.run.skip_slow_imports  # noqa: F401 (first: before anything imports nbformat)
from rnncourse.run import trusted_reference
from rnncourse.run.cpu_time import forked_cpu
from rnncourse.run.kernel import KernelSpec
from rnncourse.run.kernel_pool import KernelPool
from rnncourse.run.notebook_execution import execute_notebook
from rnncourse.run.tasks import Task, TaskResult

_POOL = KernelPool()


def _worker_name():
    return f"{socket.gethostname()}:{os.getpid()}"


def execute_submission(task):
    """Execute one sanitized submission; return the executed notebook and the verdicts.

    Parameters
    ----------
    task : dict
        :meth:`rnncourse.run.tasks.Task.to_dict`, or any dict of its fields (the others take
        their defaults): ``student``, ``notebook`` (sanitized notebook JSON), ``files`` and
        ``extra_files`` ({file name: bytes}), ``limits``, ``execute``, ``confine``,
        ``recheck``, ``prestart``, ``warm``, ``figures``, ``fork_server``, ``reference_digest``.

    Returns
    -------
    dict
        :meth:`rnncourse.run.tasks.TaskResult.to_dict`: ``notebook`` (executed notebook JSON,
        or None), ``judge`` and ``recheck`` (the verdicts, or None), ``error`` (what went wrong
        with this submission), ``infra_error`` (a failure of the grading machinery, not of the
        submission; retried on the next run), ``timings`` ({name: seconds}), ``worker``
        (host:pid).
    """
    meter = _Meter()
    result = TaskResult(student=task.get("student"), timings=meter.timings, worker=_worker_name())
    try:
        job = _accept(task)
    except Exception as exc:
        result.infra_error = f"{type(exc).__name__}: {exc}"
        return result.to_dict()
    # The re-check runs first and alone: its whole process tree is dead and its sandbox torn
    # down before the kernel gets the notebook, so nothing of the kernel's run exists while
    # it runs (docs/isolation.md). The other direction carries nothing: every final score is
    # at most the re-check's.
    if job.confine and job.recheck:
        result.recheck, error = _recheck(job, meter.timings)
        if error:
            result.infra_error = f"the re-check failed: {error}"
            return result.to_dict()
    _run_in_kernel(job, result, meter)
    return result.to_dict()


def _accept(task):
    """The :class:`Task` of ``task``, once this worker holds the coordinator's reference."""
    job = Task.from_dict(task)
    if job.confine or job.reference_digest:
        trusted_reference.load()
    if job.reference_digest and job.reference_digest != trusted_reference.loaded_digest():
        raise RuntimeError("this worker's reference data or master notebook differ from the "
                           "coordinator's: install the same version of the course on every worker")
    return job


def _recheck(job, timings):
    """``(verdicts, None)`` of the re-check of ``job``, or ``(None, what failed)`` in the machinery."""
    from rnncourse.verdicts import recheck

    t = time.monotonic()
    value, error = None, None
    try:
        data, ref = trusted_reference.load()
        value = recheck.recheck(job.notebook, {**job.extra_files, **job.files}, job.limits,
                                data=data, ref=ref)
    except Exception as exc:  # the machinery (the submission's doings are its outcome)
        error = f"{type(exc).__name__}: {exc}"
    timings["recheck"] = round(time.monotonic() - t, 4)
    return value, error


def _run_in_kernel(job, result, meter):
    """Take a kernel, run the notebook in it, keep the judge's record; the kernel is closed after."""
    spec = KernelSpec.from_task(job)
    kernel = None
    try:
        try:
            kernel, was_spare = _POOL.take(spec.key(), spec)
        except Exception as exc:
            result.infra_error = f"could not start a kernel: {type(exc).__name__}: {exc}"
            return
        meter.timings["kernel_age_at_start"] = round(kernel.age(), 4)
        kernel.add_files(job.extra_files)  # the kernel has run no code yet: it sees them from cell 1
        meter.timings["prestarted"] = 1.0 if was_spare else 0.0
        result.prestart_error = _POOL.take_last_error()
        if job.prestart:
            threading.Thread(target=_POOL.prestart, args=(spec.key(), spec), daemon=True).start()
        result.notebook, result.error = execute_notebook(job.notebook, spec, kernel, meter.timings)
        result.judge, result.judge_events = _judge_record(kernel.judge)
    finally:
        if kernel is not None:
            meter.close(kernel)
        meter.finish()


def _judge_record(judge):
    """``(verdicts, events)`` the judge recorded for the in-kernel checks; ``(None, None)`` unconfined."""
    if judge is None:
        return None, None
    verdicts = {fn: {"points": float(r["points"]), "report": r["report"],
                     "mistakes": [str(x) for x in r.get("mistakes", [])],
                     "diagnosis": r.get("diagnosis")}
                for fn, r in judge.results.items()}
    return verdicts, (list(judge.events) or None)


class _Meter:
    """One submission's timings: wall time, the CPU of this process, its children and its fork server."""

    def __init__(self):
        self.t0 = time.monotonic()
        self.cpu0 = os.times()
        self.forked0 = forked_cpu()
        self.timings = {}

    def close(self, kernel):
        """Close ``kernel``, counting its CPU time first and the time its clean-up takes."""
        t = time.monotonic()
        cpu = kernel.cpu_seconds()
        if cpu is not None:
            self.timings["kernel_cpu"] = round(cpu, 3)
        kernel.close()
        self.timings["cleanup"] = round(time.monotonic() - t, 4)

    def finish(self):
        """Wall time and CPU time since this meter was made."""
        timings, cpu0 = self.timings, self.cpu0
        timings["total"] = round(time.monotonic() - self.t0, 4)
        cpu1 = os.times()
        timings["worker_cpu"] = round(cpu1.user + cpu1.system - cpu0.user - cpu0.system, 3)
        timings["recheck_cpu"] = round(cpu1.children_user + cpu1.children_system
                                       - cpu0.children_user - cpu0.children_system, 3)
        forked1 = forked_cpu()
        if self.forked0 is not None and forked1 is not None:
            # Everything this worker's fork server ran meanwhile: this kernel's and re-check's
            # CPU (also the part spent after the wrapper exited), and the next kernel's start.
            timings["forked_cpu"] = round(forked1 - self.forked0, 3)


def warm_up(task):
    """Prepare this process for tasks like ``task`` (no notebook needed): load the reference, start a kernel.

    Called once per worker process when a run starts, so the first submission
    does not wait for imports and a cold kernel.
    """
    job = Task.from_dict(task)
    if job.confine:
        if job.fork_server:
            from rnncourse.sandbox import start_fork_server

            start_fork_server()
        trusted_reference.load()
    if job.prestart:
        spec = KernelSpec.from_task(job)
        _POOL.prestart(spec.key(), spec)
    # What the first submission would otherwise import while its kernel waits.
    import nbclient  # noqa: F401
    import nbformat  # noqa: F401
    from nbgrader.preprocessors import Execute  # noqa: F401

    from rnncourse.verdicts import judge, recheck  # noqa: F401 (imported once per worker)
    return _worker_name()


def shutdown():
    """Kill this process's spare kernels and its fork server (they are also killed at exit)."""
    from rnncourse.sandbox import stop_fork_server

    _POOL.close()
    stop_fork_server()
