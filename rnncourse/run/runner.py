"""Grade a whole class: ``make grade``, ``python -m rnncourse.cli grade``, :func:`grade_class`.

The coordinator (this module, one process) is the only one that reads the
submissions and writes the gradebook; workers (:func:`rnncourse.run.worker.execute_submission`)
only execute notebooks, in local worker processes or as tasks on a Dask
distributed cluster.

For every ``submitted/<student>/rnn_lstm/``:

1. read ``rnn_lstm.ipynb`` (size cap, UTF-8, JSON, nbformat 4) and sanitize
   it with nbgrader's own preprocessors (``ClearOutput``, ``DeduplicateIds``,
   ``OverwriteKernelspec``, ``OverwriteCells``, ``CheckCellMetadata``) against
   the gradebook's copy of the assignment: locked and test cells are
   restored as ``nbgrader autograde`` restores them;
2. send it, with the released files, to a worker;
3. score the executed notebook with nbgrader's own rule
   (``nbgrader.utils.determine_grade``, as ``SaveAutoGrades``), so the scores
   equal stock ``nbgrader autograde`` cell by cell; when grading is confined
   (the default) each hidden test cell gets the lowest of that score, the
   judge's record of the in-kernel check and the out-of-kernel re-check, and a
   notebook score higher than either is flagged as possible tampering;
4. make its outputs and markdown inert (``rnncourse.sanitize.safe_notebook``: nothing
   in it can run in the formgrader or the feedback), write
   ``autograded/<student>/rnn_lstm/`` (atomically) and then the
   student's rows of the gradebook in one transaction;
5. at the end, export ``grades.csv``.

Resumable: a student whose submission (and the grading setup) did not
change since it was recorded is skipped; anything not recorded when a run is
killed is graded by the next run; ``force=True`` regrades everyone.
A broken submission (unreadable notebook, timeout, dead kernel) is recorded
with a clear error for that student and never stops the others.

Importing this module imports neither nbgrader nor nbformat (about 0.6 s): a
run imports them after it has started its fork server, whose own imports
(about a second) then go on beside them on another core.
"""

import contextlib
import os
import shutil
import sys
import time

import rnncourse.run.skip_slow_imports  # noqa: F401 (first: before anything imports nbformat)
from rnncourse import stocknbgrader
from rnncourse.run import gradebook
from rnncourse.run.executors import DaskExecutor, InlineExecutor, LocalExecutor, preload_for_workers
from rnncourse.run.fingerprint import fingerprint, read_timestamp, setup_key
from rnncourse.run.gradebook import CourseError
from rnncourse.run.runlock import GradingRefused, run_lock
from rnncourse.run.submission import read_files
from rnncourse.run.summary import Summary

IOPUB_TIMEOUT = 20
"""Seconds nbclient waits for a cell's last outputs, at least: on a busy machine nbgrader's 4 s
fail whole submissions ("Timeout waiting for IOPub output"); waiting longer changes no score."""

def _execute_settings(course):
    from nbgrader.preprocessors import Execute, IgnorePattern, LimitOutput

    ex = Execute(config=course.config)
    lo = LimitOutput(config=course.config)
    ip = IgnorePattern(config=course.config)
    return {
        "timeout": ex.timeout if ex.timeout is not None else 30,
        "interrupt_on_timeout": bool(ex.interrupt_on_timeout),
        "startup_timeout": ex.startup_timeout,
        "iopub_timeout": max(ex.iopub_timeout, IOPUB_TIMEOUT),
        "raise_on_iopub_timeout": bool(ex.raise_on_iopub_timeout),
        "extra_arguments": list(ex.extra_arguments),
        "kernel_name": ex.kernel_name or "python3",
        "max_lines": lo.max_lines,
        "max_traceback": lo.max_traceback,
        "ignore_pattern": ip.pattern,
        "ignore_enabled": bool(ip.enabled),
    }


def _write_autograded(course, student, files, nb_json):
    """Write ``autograded/<student>/<assignment>/`` atomically (files, then the notebook, read-only)."""
    base = course.autograded_dir() / student
    base.mkdir(parents=True, exist_ok=True)
    dest = base / course.assignment
    tmp = base / f".{course.assignment}.partial-{os.getpid()}"
    old = base / f".{course.assignment}.old-{os.getpid()}"
    for p in (tmp, old):
        if p.exists():
            shutil.rmtree(p)
    tmp.mkdir()
    for name, content in files.items():
        (tmp / name).write_bytes(content)
    if nb_json is not None:
        (tmp / f"{course.notebook}.ipynb").write_text(nb_json, encoding="utf-8")
    for p in tmp.iterdir():
        p.chmod(0o444)
    if dest.exists():
        dest.rename(old)
    tmp.rename(dest)
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)


def _clean_partials(course):
    root = course.autograded_dir()
    if root.is_dir():
        for p in root.glob(f"*/.{course.assignment}.*-*"):
            shutil.rmtree(p, ignore_errors=True)


def _default_workers():
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def _progress_bar(total, enabled):
    if not enabled or total == 0:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="sub", desc="grading", dynamic_ncols=True, smoothing=0.1,
                file=sys.stderr, bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} "
                "[{elapsed}<{remaining}, {rate_fmt}{postfix}]")


def grade_class(root=None, *, students=None, workers=None, scheduler=None, force=False, db_url=None,
                limits=None, unsafe_no_sandbox=False, progress=True, export=True, backup=True,
                prestart=True, warm=True, figures=True, fork_server=True, log=None):
    """Grade every submission of the course into its gradebook; return a :class:`Summary`.

    Parameters
    ----------
    root : str or Path, optional
        Course directory (default: this package's course, or ``RNNCOURSE_ROOT``).
    students : iterable of str, optional
        Grade only these student ids (default: every folder in ``submitted/``).
    workers : int, optional
        Local worker processes (default: the number of cores). Ignored with ``scheduler``.
    scheduler : str, optional
        Address of a Dask distributed scheduler (``tcp://host:port``): every
        submission becomes a task on that cluster.
    force : bool
        Regrade submissions already graded and unchanged.
    db_url : str, optional
        Gradebook URL (default: the course configuration's, ``sqlite:///gradebook.db``).
    limits : dict, optional
        Fields of :class:`rnncourse.sandbox.Limits` (per-cell and total time,
        memory, output, processes...). The per-cell timeout defaults to the
        course's ``ExecutePreprocessor.timeout``.
    unsafe_no_sandbox : bool
        Run student code unconfined, with the instructor's rights (like stock
        nbgrader): only for trusted submissions. Without it, grading refuses
        to start where confinement is unavailable.
    progress : bool
        Show a progress bar (rate, ETA) on stderr.
    export : bool
        Write ``grades.csv`` at the end.
    backup : bool
        Back up an SQLite gradebook before writing.
    prestart, warm : bool
        Speed-ups: start each worker's next kernel ahead / pre-import numpy and
        matplotlib in it (each kernel still serves one submission only).
    figures : bool
        Draw the notebook's figures into the autograded notebooks, as stock
        nbgrader does (default). False builds them without drawing (each shows
        as ``<Figure size ...>``), same scores (no faster: the course's helper
        draws nothing while grading).
    fork_server : bool
        Start confined kernels and re-checks as forks of a per-worker process
        that imported ipykernel, numpy and matplotlib once
        (:mod:`rnncourse.sandbox.forkserver`), under the same confinement; each fork runs
        one program for one submission. False execs each anew.
    log : callable, optional
        ``log(str)`` for messages (default: print to stderr).

    Returns
    -------
    Summary
    """
    log = log or (lambda s: print(s, file=sys.stderr, flush=True))
    stocknbgrader.venv_on_path()
    course = gradebook.load_course(root, db_url)
    gradebook.probe(course.db_url)
    with _course_env(course.root):
        return _grade(course, students=students, workers=workers, scheduler=scheduler, force=force,
                      limits=limits, unsafe_no_sandbox=unsafe_no_sandbox, progress=progress,
                      export=export, backup=backup, prestart=prestart, warm=warm, figures=figures,
                      fork_server=fork_server, log=log)


@contextlib.contextmanager
def _course_env(root):
    """Set ``RNNCOURSE_ROOT`` to the graded course while grading (workers inherit it)."""
    saved = os.environ.get("RNNCOURSE_ROOT")
    os.environ["RNNCOURSE_ROOT"] = str(root)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("RNNCOURSE_ROOT", None)
        else:
            os.environ["RNNCOURSE_ROOT"] = saved


def _grade(course, *, students, workers, scheduler, force, limits, unsafe_no_sandbox, progress, export,
           backup, prestart, warm, figures, fork_server, log):
    t_start = time.monotonic()
    cpu0 = os.times()
    lock = run_lock(course)
    confined = not unsafe_no_sandbox
    if confined:
        from rnncourse import sandbox

        ok, how = sandbox.available()
        if not ok:
            raise GradingRefused(
                f"student code cannot be confined here ({how}). Fix that (see docs/isolation.md), "
                "or, for trusted submissions only, grade unconfined with "
                "--unsafe-no-sandbox (UNSAFE_NO_SANDBOX=1 with make)")
        if fork_server and not scheduler and workers != 0:
            # Shared by this run's local workers; it imports while the class is read.
            sandbox.share_fork_server()
    else:
        log("WARNING: grading UNCONFINED (--unsafe-no-sandbox): student code runs with your "
            "rights and can read or change the course, the gradebook and other students' work. "
            "Only do this for submissions you trust.")

    submitted = course.submitted_dir()
    if not submitted.is_dir():
        raise CourseError(f"{submitted} does not exist: copy the submissions into "
                          f"submitted/<student>/{course.assignment}/ first")
    found = sorted(p.name for p in submitted.iterdir()
                   if (p / course.assignment).is_dir() and not p.name.startswith("."))
    if students is not None:
        wanted = list(dict.fromkeys(students))
        missing = [s for s in wanted if s not in found]
        if missing:
            raise CourseError(f"no submitted/<student>/{course.assignment}/ for {missing}")
        found = wanted

    from rnncourse.sandbox import Limits

    execute = _execute_settings(course)
    lim = dict(limits or {})
    lim.setdefault("cell_timeout", float(execute["timeout"]))
    limits_obj = Limits.from_dict(lim)
    source_files, _ = read_files(course.source_dir(), course.ignore())
    from rnncourse.run.trusted_reference import reference_digest

    digest = reference_digest() if confined else None
    base_task = {"files": source_files, "limits": limits_obj.to_dict(), "execute": execute,
                 "confine": confined, "recheck": confined, "prestart": prestart, "warm": warm,
                 "figures": figures, "fork_server": fork_server, "reference_digest": digest}
    local = None
    if found and not scheduler and workers != 0:
        # Started now, before the gradebook is opened: they fork from this process with
        # everything imported and warm up while the class is read below.
        preload_for_workers(confined)
        local = LocalExecutor(max(1, int(workers or _default_workers())), base_task,
                               inherited_fds=(lock.fileno(),))
    try:
        return _grade_with(course, found, local, base_task, lock, t_start, cpu0,
                           scheduler=scheduler, force=force, progress=progress, export=export,
                           backup=backup, confined=confined, figures=figures,
                           limits_obj=limits_obj, execute=execute, source_files=source_files,
                           digest=digest, log=log)
    except BaseException:
        if local is not None:
            local.close(cancel=True)
        raise


def _grade_with(course, found, local, base_task, lock, t_start, cpu0, *, scheduler, force, progress, export,
                backup, confined, figures, limits_obj, execute, source_files, digest, log):
    from rnncourse.run.classrun import ClassRun
    from rnncourse.run.nbgrader_sanitize import NbgraderSanitizer

    if backup:
        saved = gradebook.backup(course.db_url)
        if saved:
            log(f"gradebook backed up to {saved.name}")
    gradebook.ensure_assignment(course)
    snap = gradebook.snapshot(course)
    setup = setup_key(snap.fingerprint(), confined, figures, limits_obj.to_dict(), execute, source_files,
                      digest)
    summary = Summary(confined=confined)
    _clean_partials(course)

    with gradebook.Store(course) as store:
        todo = _jobs(course, found, store.statuses(), setup, force, summary)
        executor = _executor(todo, local, scheduler, base_task)
        summary.workers, summary.mode = executor.workers, executor.label
        bar = _progress_bar(len(todo), progress)
        run = ClassRun(course, store, executor, summary, base_task=base_task, source_files=source_files,
                       sanitize=NbgraderSanitizer(course, snap), confined=confined,
                       write_autograded=_write_autograded, bar=bar)
        try:
            run.run(todo)
        except BaseException:
            executor.close(cancel=True)
            if bar is not None:
                bar.close()
            raise
        executor.close()
        if bar is not None:
            bar.close()
        if export:
            store.export_csv(course.root / "grades.csv")
    lock.close()
    _add_timings(summary, run.timings, confined, len(todo), cpu0)
    summary.seconds = time.monotonic() - t_start
    return summary


def _jobs(course, found, statuses, setup, force, summary):
    """The :class:`Job` of every student in ``found`` to grade now (the others: ``summary.skipped``)."""
    from rnncourse.run.classrun import Job

    todo = []
    for student in found:
        folder = course.submitted_dir() / student / course.assignment
        nb_path = folder / f"{course.notebook}.ipynb"
        raw = nb_path.read_bytes() if nb_path.is_file() else None
        extra, _ = read_files(folder, course.ignore())
        ts, ts_text = read_timestamp(folder)
        fp = fingerprint(raw, extra, ts_text, setup)
        done = statuses.get(student)
        autograded = course.autograded_dir() / student / course.assignment
        if (not force and done is not None and done["fingerprint"] == fp
                and (done["state"] == "failed" or (autograded / f"{course.notebook}.ipynb").exists())):
            summary.skipped.append(student)
            continue
        todo.append(Job(student, folder, fp, ts))
    return todo


def _executor(todo, local, scheduler, base_task):
    """Where ``todo`` runs: the local workers already started, a Dask cluster, or this process."""
    if not todo:
        if local is not None:
            local.close(cancel=True)  # nothing to run
        executor = InlineExecutor()
        executor.label = scheduler or "local"
        executor.workers = 0
        return executor
    if scheduler:
        return DaskExecutor(scheduler, base_task)
    return InlineExecutor() if local is None else local


def _add_timings(summary, timings, confined, n_graded, cpu0):
    """Mean per-submission timings of the workers, the fork server and this coordinator."""
    forked = None
    if confined:
        from rnncourse import sandbox
        from rnncourse.run.cpu_time import tree_cpu

        pid = sandbox.fork_server_pid()
        if pid is not None and n_graded:
            # Re-checks and the forks' start-up; a kernel's own CPU is in kernel_cpu (its tree
            # is killed, not reaped, so it is not counted here).
            forked = tree_cpu(pid) / n_graded
        sandbox.stop_fork_server()
    summary.timings = {k: round(sum(v) / len(v), 4) for k, v in timings.items() if v}
    if forked is not None:
        summary.timings["forked_cpu"] = round(forked, 4)
    own = os.times()
    if n_graded:
        summary.timings["coordinator_cpu"] = round((own.user + own.system - cpu0.user - cpu0.system)
                                                   / n_graded, 4)
