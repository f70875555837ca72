"""The re-check: a verdict the student's code cannot reach.

``recheck(notebook_json, files, limits)`` grades a submission again, outside
the kernel that ran the notebook: a fresh confined process
(:mod:`rnncourse.sandbox`) that holds no reference data runs the student's
cells (solution cells, cells the student added, and the ``imports`` cell;
not the instructor's test or plot cells), then feeds each of the eight
functions the test inputs it gets from a judge (:mod:`rnncourse.verdicts.judge`) of
this process, and sends back plain float64 arrays; the judge compares them
with the reference arrays through :func:`rnncourse.verdicts.verdict.compare`, so
points and messages equal the in-kernel check's for honest work.

Bounded: each cell and each function has ``limits.cell_timeout`` seconds.
A step that ignores the timeout (signals blocked, the process killed) is
skipped and the process started again, at most ``MAX_ROUNDS`` times and
within ``limits.total_timeout`` in all, so the honest parts of a partly
broken submission are still credited.
"""

import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from rnncourse import FUNCTIONS
from rnncourse.client import testcases
from rnncourse.confinement import course_contents
from rnncourse.sandbox import CLIENT_DIR, Limits, Sandbox, is_plain_file_name
from rnncourse.verdicts.judge import Judge

MAX_ROUNDS = 5

def _grace(limits):
    """Time the driver gets beyond a step's timeout to stop it itself."""
    return min(5.0, 1.0 + limits.cell_timeout / 4)

MAX_CELLS = 2000
MAX_SOURCE = 4 * 1024 ** 2


def student_cells(nb):
    """The cells the re-check runs: ``[{"index": i, "source": str}, ...]`` in notebook order.

    Solution cells, the ``imports`` cell and cells without nbgrader metadata
    (added by the student); never graded test cells nor the instructor's
    other read-only cells.
    """
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise ValueError("the notebook has no list of cells")
    out, total = [], 0
    for i, cell in enumerate(nb["cells"]):
        if len(out) >= MAX_CELLS:  # counted among the cells it runs: markdown notes cost nothing
            break
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        meta = cell.get("metadata")
        md = meta.get("nbgrader") if isinstance(meta, dict) else None
        md = md if isinstance(md, dict) else {}
        if md and not (md.get("solution") or md.get("grade_id") == "imports"):
            continue
        if md.get("grade") and not md.get("solution"):
            continue
        src = cell.get("source", "")
        if isinstance(src, list):
            src = "".join(s for s in src if isinstance(s, str))
        if not isinstance(src, str):
            continue
        total += len(src)
        if total > MAX_SOURCE:
            break
        out.append({"index": i, "source": src})
    return out


class _StreamHead(threading.Thread):
    """Keep the first ``keep`` bytes of a stream (its head), drain the rest."""

    def __init__(self, stream, keep=16384):
        super().__init__(daemon=True)
        self.stream, self.keep, self.data = stream, keep, b""

    def run(self):
        try:
            while True:
                chunk = self.stream.read(65536)
                if not chunk:
                    return
                if len(self.data) < self.keep:
                    self.data += chunk[: self.keep - len(self.data)]
        except (OSError, ValueError):
            return


def recheck(notebook_json, files=None, limits=None, data=None, ref=None, contents=None):
    """Re-grade a submission in a fresh confined process; ``{fn: {"points", "report"}}``.

    Parameters
    ----------
    notebook_json : str or bytes
        The (sanitized) notebook.
    files : dict, optional
        ``{file name: bytes}`` put beside it (the released files, e.g. ``rnn_utils.py``).
    limits : Limits or dict, optional
        Resource limits (:class:`rnncourse.sandbox.Limits`).
    data, ref : optional
        Reference cases and reference module (loaded from the course by default).
    contents : Contents, optional
        What the sandbox copies in and protects (default: the course's,
        :func:`rnncourse.confinement.course_contents`).

    Returns
    -------
    dict
        For each of the eight functions: ``"points"`` (float), ``"report"``
        (the same text as the in-kernel check for the same outputs, or why it
        could not be checked) and ``"diagnosis"`` (the judge's record dict, or
        None when the function was not checked).

    Raises
    ------
    RecheckError
        When the confined process could not start at all (before any student
        code ran): grade the submission again later rather than record zeros.
    """
    limits = Limits.from_dict(limits)
    try:
        nb = json.loads(notebook_json)
        cells = student_cells(nb)
    except (ValueError, TypeError, RecursionError) as exc:
        return _all_zero(f"the notebook could not be read: {exc}")
    workdir = tempfile.mkdtemp(prefix="rnncourse-recheck-")
    judge = None
    sandbox = None
    try:
        for name, content in (files or {}).items():
            if not is_plain_file_name(name):
                raise ValueError(f"refusing the file name {name!r}: plain file names only")
            with open(os.path.join(workdir, name), "wb") as f:
                f.write(content if isinstance(content, bytes) else str(content).encode())
        judge = Judge(limits=limits, strict_order=True, exclusive=True, data=data, ref=ref)
        sandbox = Sandbox(workdir, limits, judge_dir=judge.directory,
                          contents=course_contents() if contents is None else contents)
        judge.owner = sandbox.uid if sandbox.root_mode else None
        judge.start()
        notes = _run(judge, sandbox, limits, cells)
        return _results(judge, notes)
    finally:
        if sandbox is not None:
            sandbox.close()
        if judge is not None:
            judge.close()
        shutil.rmtree(workdir, ignore_errors=True)


def _run(judge, sandbox, limits, cells):
    """Start the driver until it finishes, skipping steps that hang; notes per function.

    The judge hands out the steps (:meth:`rnncourse.verdicts.judge.Judge.plan`) and
    knows which one was running when the process hung or stopped; that step
    is skipped in the next round. Whatever the student's code sends or does,
    the outcome is this submission's: only a driver that never asked for its
    first step (before any student code could run) is a failure of the
    grading machinery (:class:`RecheckError`).
    """
    deadline = time.monotonic() + limits.total_timeout
    skip_cells = []
    notes = {}
    options = json.dumps({"cell_timeout": limits.cell_timeout, "workdir": sandbox.workdir})
    for round_ in range(MAX_ROUNDS):
        judge.plan(cells, skip_cells)
        judge.expect_grader()
        # Started in the client modules' directory: nothing the student submitted is on
        # sys.path until the driver enters the working directory for the first cell.
        argv = sandbox.wrap([os.path.join(sys.prefix, "bin", "python"), "-m",
                             "rnncourse.client.recheck_driver",
                             options], cwd=CLIENT_DIR)
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, start_new_session=True)
        judge.progress_time = time.monotonic()  # wrap() may have waited for the fork server
        head = _StreamHead(proc.stderr)
        head.start()
        why = None
        with _ExitWatch(proc) as watch:
            while proc.poll() is None:
                now = time.monotonic()
                if now > deadline:
                    why = f"the re-check ran out of time ({limits.total_timeout:g} s in all)"
                    break
                if now > judge.progress_time + limits.cell_timeout + _grace(limits):
                    why = f"it did not finish within {limits.cell_timeout:g} s"
                    break
                watch.wait(POLL_SECONDS)
        if why:
            sandbox.kill_all()
            proc.kill()  # the launcher of a fork: its death kills the program, even not yet started
        proc.wait()
        head.join(timeout=2)
        progress = judge.progress  # set by the judge itself: complete, never the driver's word
        if progress is not None and progress["stage"] == "done":
            return notes
        stderr = head.data.decode("utf-8", "replace").strip()
        if not why:
            why = f"the re-check process stopped (exit status {proc.returncode})"
        if progress is None:
            detail = stderr.splitlines()[-1] if stderr else "no message"
            if round_ == 0:
                # The driver asks for its first step before any student code exists in the
                # process: silence means the grading machinery failed, not the submission.
                raise RecheckError(f"the re-check driver did not start: {why} ({detail})")
            for fn in FUNCTIONS:
                notes.setdefault(fn, f"the re-check could not run: {why} ({detail})")
            return notes
        if progress["stage"] == "cell":
            skip_cells.append(progress["index"])
            for fn in FUNCTIONS:
                notes.setdefault(fn, f"a cell before its check stopped the process: {why}")
        else:
            notes[progress["fn"]] = f"its check was stopped: {why}"
        if time.monotonic() > deadline:
            return notes
    return notes


POLL_SECONDS = 0.05
"""How often the time limits are checked while the driver runs (its exit is seen at once)."""


class _ExitWatch:
    """Wait for a child's exit, woken the moment it exits (a pidfd), or after ``timeout`` seconds.

    pidfds (Linux 5.3) are what the confinement wrapper itself waits on
    (:mod:`rnncourse.sandbox.confine`): wherever a re-check can run, they exist.
    """

    def __init__(self, proc):
        self.proc = proc
        self.fd = None

    def __enter__(self):
        self.fd = os.pidfd_open(self.proc.pid)
        return self

    def wait(self, timeout):
        select.select([self.fd], [], [], timeout)

    def __exit__(self, *exc):
        os.close(self.fd)


class RecheckError(RuntimeError):
    """The re-check could not run at all (a problem of the grading machinery, not of the submission)."""


def _all_zero(why):
    return {fn: {"points": 0.0, "report": f"{fn}: not checked ({why})"} for fn in FUNCTIONS}


def _results(judge, notes):
    out = {}
    for fn in FUNCTIONS:
        if fn in judge.results:
            r = judge.results[fn]
            report = r["report"]
            if r["n_ok"] == 0 and fn in notes and "did not finish" in report:
                report = f"{fn}: 0 of {len(testcases.OUTPUTS[fn])} outputs correct\n  ({notes[fn]})"
            out[fn] = {"points": float(r["points"]), "report": report,
                       "diagnosis": r.get("diagnosis")}
        elif fn in judge.undefined:
            out[fn] = {"points": 0.0,
                       "report": f"{fn} is not defined: run the cell that defines it, then this one."}
        else:
            out[fn] = {"points": 0.0, "report": f"{fn}: not checked ({notes.get(fn, 'never reached')})"}
    return out
