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
"""

import collections
import concurrent.futures
import contextlib
import datetime
import functools
import hashlib
import json
import os
import shutil
import signal
import socket
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import rnncourse.run.skip_slow_imports  # noqa: F401 (first: before anything imports nbformat)
from rnncourse import FUNCTIONS
from rnncourse.client import testcases
from rnncourse.run import gradebook, structure
from rnncourse.run.gradebook import CourseError, Outcome
from rnncourse.sanitize import safe_notebook

GRADER_VERSION = "2"
"""Part of every submission's fingerprint: bump it when grading changes, to regrade everyone."""

MAX_NOTEBOOK_BYTES = 32 * 1024 ** 2
IOPUB_TIMEOUT = 20
MAX_FILE_BYTES = 16 * 1024 ** 2


class GradingRefused(Exception):
    """Grading cannot start safely here; the message says why and what to do."""


# --------------------------------------------------------------------------- summary
@dataclass
class Summary:
    """What a run did.

    Attributes
    ----------
    graded : list of str
        Students graded and recorded in this run.
    failed : dict
        student -> reason, for submissions that could not be graded fully
        (recorded with the scores they earned, and the reason).
    retry : dict
        student -> reason, for failures of the grading machinery (nothing
        recorded; the next run grades them).
    skipped : list of str
        Already graded and unchanged.
    flagged : dict
        student -> list of warnings (possible tampering).
    seconds : float
        Wall time of the run.
    workers : int
    mode : str
        ``"local"`` or the scheduler address.
    confined : bool
    """

    graded: list = field(default_factory=list)
    failed: dict = field(default_factory=dict)
    retry: dict = field(default_factory=dict)
    skipped: list = field(default_factory=list)
    flagged: dict = field(default_factory=dict)
    seconds: float = 0.0
    workers: int = 0
    mode: str = "local"
    confined: bool = True
    timings: dict = field(default_factory=dict)

    @property
    def ok(self):
        return not self.retry

    def text(self):
        n = len(self.graded) + len(self.failed) + len(self.retry)
        rate = n / self.seconds * 60 if self.seconds > 0 and n else 0.0
        lines = [f"graded {len(self.graded)}, failed {len(self.failed)}, skipped as already graded "
                 f"{len(self.skipped)}" + (f", not recorded (retried next run) {len(self.retry)}"
                                            if self.retry else "")
                 + f" in {self.seconds:.1f} s ({rate:.1f} submissions/min, {self.workers} workers, "
                 f"{self.mode}, {'confined' if self.confined else 'UNCONFINED'})"]
        for student, why in sorted(self.failed.items()):
            lines.append(f"  FAILED  {student}: {why}")
        for student, why in sorted(self.retry.items()):
            lines.append(f"  RETRY   {student}: {why}")
        for student, flags in sorted(self.flagged.items()):
            for f in flags:
                lines.append(f"  FLAGGED {student}: {f}")
        return "\n".join(lines)


# --------------------------------------------------------------------------- reading submissions
def _read_files(folder, ignore, exclude_notebooks=True):
    """``{name: bytes}`` of the plain files in ``folder`` nbgrader would copy (ignore patterns applied)."""
    from nbgrader.utils import find_all_files

    out, skipped = {}, []
    patterns = list(ignore) + (["*.ipynb"] if exclude_notebooks else [])
    for path in sorted(find_all_files(str(folder), patterns)):
        rel = os.path.relpath(path, folder)
        if os.sep in rel or os.path.islink(path):
            skipped.append(rel)
            continue
        if os.path.getsize(path) > MAX_FILE_BYTES:
            skipped.append(rel)
            continue
        with open(path, "rb") as f:
            out[rel] = f.read()
    return out, skipped


def _notebook_problem(folder, name):
    """A message when ``folder/name`` is missing (with the notebooks that are there instead)."""
    others = sorted(p.name for p in Path(folder).glob("*.ipynb")) if Path(folder).is_dir() else []
    msg = f"no {name} in submitted/{Path(folder).parent.name}/{Path(folder).name}/"
    if others:
        msg += f" (found {', '.join(others[:5])}: the notebook must keep its name {name})"
    return msg


@functools.lru_cache(maxsize=1)
def _metadata_schema():
    import jsonschema
    from nbgrader.nbgraderformat import MetadataValidator

    nbgrader_validator = MetadataValidator()
    cls = jsonschema.validators.validator_for(nbgrader_validator.schema)
    cls.check_schema(nbgrader_validator.schema)
    return nbgrader_validator, cls(nbgrader_validator.schema)


def _validate_cell_metadata(cell):
    """nbgrader's ``MetadataValidator().validate_cell(cell)``, same errors, schema compiled once."""
    import jsonschema

    if "nbgrader" not in cell.metadata:
        return
    nbgrader_validator, compiled = _metadata_schema()
    if cell.metadata["nbgrader"].get("schema_version", 0) != nbgrader_validator.schema_version:
        nbgrader_validator.validate_cell(cell)  # nbgrader's own error for a wrong schema version
        return
    error = jsonschema.exceptions.best_match(compiled.iter_errors(cell.metadata["nbgrader"]))
    if error is not None:
        raise error


class _Sanitizer:
    """nbgrader's sanitizing preprocessors, reading the assignment from a snapshot, not the database."""

    def __init__(self, course, snap):
        from nbgrader.nbgraderformat import ValidationError
        from nbgrader.preprocessors import (
            CheckCellMetadata,
            ClearOutput,
            DeduplicateIds,
            OverwriteCells,
            OverwriteKernelspec,
        )
        from nbgrader.preprocessors.base import NbGraderPreprocessor

        class SnapshotKernelspec(OverwriteKernelspec):
            def preprocess(self, nb, resources):
                spec = snap.find_notebook(resources["nbgrader"]["notebook"],
                                          resources["nbgrader"]["assignment"]).kernelspec
                if spec:
                    nb.metadata["kernelspec"] = json.loads(spec)
                return nb, resources

        class CompiledCheckCellMetadata(CheckCellMetadata):
            # nbgrader's check, with the schema compiled once: jsonschema.validate() checks the
            # schema itself again for every cell, most of the coordinator's CPU on a class.
            def preprocess(self, nb, resources):
                try:
                    for cell in nb.cells:
                        _validate_cell_metadata(cell)
                except ValidationError:
                    self.log.error(traceback.format_exc())
                    msg = "Notebook failed to validate; the nbgrader metadata may be corrupted."
                    self.log.error(msg)
                    raise ValidationError(msg) from None
                return nb, resources

        class SnapshotCells(OverwriteCells):
            def preprocess(self, nb, resources):
                self.notebook_id = resources["nbgrader"]["notebook"]
                self.assignment_id = resources["nbgrader"]["assignment"]
                self.db_url = resources["nbgrader"]["db_url"]
                self.gradebook = snap
                nb, resources = NbGraderPreprocessor.preprocess(self, nb, resources)
                if self.add_missing_cells:
                    nb, resources = self.add_missing_grade_cells(nb, resources)
                    nb, resources = self.add_missing_task_cells(nb, resources)
                return nb, resources

        import nbformat

        cfg = course.config
        released = course.release_dir() / f"{course.notebook}.ipynb"
        self.released = nbformat.read(str(released), as_version=4) if released.is_file() else None
        self.steps = [ClearOutput(config=cfg), DeduplicateIds(config=cfg),
                      SnapshotKernelspec(config=cfg), SnapshotCells(config=cfg),
                      CompiledCheckCellMetadata(config=cfg)]
        self.course = course

    def __call__(self, nb, student):
        resources = {"nbgrader": {"student": student, "assignment": self.course.assignment,
                                  "notebook": self.course.notebook, "db_url": self.course.db_url}}
        if self.released is not None:
            # Deleted, edited, duplicated or re-labelled test and read-only cells are put back.
            nb = structure.restore(nb, self.released)
        for step in self.steps:
            if step.enabled:
                nb, resources = step.preprocess(nb, resources)
        return nb


def parse_notebook(raw, name):
    """Bytes of a submitted notebook -> NotebookNode (v4), or a SubmissionProblem saying what is wrong."""
    import nbformat

    if len(raw) > MAX_NOTEBOOK_BYTES:
        raise SubmissionProblem(f"{name} is {len(raw) / 1024 ** 2:.1f} MiB, more than the "
                                f"{MAX_NOTEBOOK_BYTES // 1024 ** 2} MiB allowed (clear its outputs)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SubmissionProblem(f"{name} is not UTF-8 text (bad byte at offset {exc.start}): "
                                "it was damaged or saved in another encoding") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SubmissionProblem(f"{name} is not valid JSON (line {exc.lineno}, column {exc.colno}: "
                                f"{exc.msg}): the file was damaged or edited by hand") from None
    except RecursionError:
        raise SubmissionProblem(f"{name} is nested too deeply to be a notebook") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells", data.get("worksheets")), list):
        raise SubmissionProblem(f"{name} is JSON but not a notebook (no list of cells)")
    major = data.get("nbformat")
    if major not in (3, 4):
        raise SubmissionProblem(f"{name} has notebook format {major!r}; only formats 3 and 4 "
                                "(Jupyter) can be graded")
    try:
        import logging

        logger = logging.getLogger("nbformat")
        level = logger.level
        logger.setLevel(logging.CRITICAL)
        try:
            return nbformat.reads(text, as_version=4)
        finally:
            logger.setLevel(level)
    except Exception as exc:
        raise SubmissionProblem(f"{name} could not be read as a notebook: {type(exc).__name__}: "
                                f"{str(exc)[:300]}") from None


class SubmissionProblem(Exception):
    """What is wrong with one student's submission (recorded for that student)."""


# --------------------------------------------------------------------------- scoring
def _diagnosis_of(fn, cell, info, judge, recheck, confined):
    """The recorded verdict of ``fn``: from the check whose points were kept (trusted records
    when confined: the judge's, or the re-check's when it scored lower or alone), else from
    what the notebook's hidden test cell printed."""
    from rnncourse.verdicts import diagnosis

    if confined:
        rechecked, judged = info.get("recheck"), info.get("judge")
        use_recheck = rechecked is not None and (not info["ran"] or judged is None
                                                 or rechecked < judged - 1e-9)
        source = (recheck if use_recheck else judge) or {}
        text = (source.get(fn) or {}).get("report", "")
        return diagnosis.parse(text).get(fn)
    return diagnosis.from_cell(cell, fn)


def function_of(grade_id):
    """The graded function a test cell belongs to: the longest function name its grade_id starts with."""
    found = [fn for fn in FUNCTIONS if grade_id.startswith(fn)]
    return max(found, key=len) if found else None


def score_notebook(nb_json, confined, judge, recheck):
    """Scores, comments, flags and details of an executed notebook.

    Parameters
    ----------
    nb_json : str
        The executed notebook.
    confined : bool
        Whether the judge and re-check verdicts apply (the default grading).
    judge, recheck : dict or None
        ``{fn: {"points", "report"}}`` from the worker (the judge's also ``"mistakes"``: the
        labels named, kept per test cell in ``details[grade_id]["mistakes"]``).

    Returns
    -------
    scores, comments, flags, details
        ``{grade_id: score}``, ``{grade_id: comment}``, ``[str]``,
        ``{grade_id: {...}}``. The in-kernel score of a cell is exactly
        ``nbgrader.utils.determine_grade``'s; a test cell that never ran scores 0
        there. With ``confined``, the final score is the lowest of the in-kernel,
        judge and re-check verdicts; for a test cell that never ran (the kernel
        died or time ran out before it) it is the re-check's (or a judge record the
        student's own code caused there, if lower).
    """
    import logging

    import nbformat
    from nbgrader import utils

    nb = nbformat.v4.reads(nb_json)
    log = logging.getLogger("rnncourse.grade")
    log.addHandler(logging.NullHandler())
    log.propagate = False
    scores, comments, flags, details = {}, {}, [], {}
    for cell in nb.cells:
        if "nbgrader" not in cell.metadata:
            continue
        gid = cell.metadata.nbgrader.get("grade_id")
        if utils.is_grade(cell):
            try:
                auto, max_points = utils.determine_grade(cell, log)
            except ValueError as exc:  # partial credit above the maximum
                auto, max_points = 0.0, float(cell.metadata.nbgrader["points"])
                flags.append(f"{gid}: {exc}")
            not_run = cell.cell_type == "code" and cell.get("execution_count") is None
            if not_run and not utils.is_solution(cell):
                auto = 0.0
            final = auto
            info = {"notebook": auto, "max": max_points, "ran": not not_run}
            fn = function_of(gid) if cell.cell_type == "code" and not utils.is_solution(cell) else None
            if confined and fn is not None and auto is not None:
                scale = max_points / testcases.POINTS[fn]
                got_judge = (judge or {}).get(fn)
                judged = round(float(got_judge["points"]) * scale, 4) if got_judge else 0.0
                rechecked = None
                if recheck is not None and fn in recheck:
                    rechecked = round(float(recheck[fn]["points"]) * scale, 4)
                    info["recheck_report"] = recheck[fn]["report"][:4000]
                info["judge"] = judged
                info["mistakes"] = list(got_judge.get("mistakes", [])) if got_judge else []
                info["recheck"] = rechecked
                if not_run and rechecked is not None:
                    # The kernel never reached this cell (it died, or the notebook ran out of
                    # time): there is no in-notebook verdict to compare, and the re-check ran
                    # the same check outside the student's reach. Honest work still counts.
                    # A judge record for a cell that never ran comes from the student's own code
                    # (it began the check itself): it can only lower the score.
                    final = min(rechecked, judged) if got_judge else rechecked
                    info["scored_by"] = "re-check (the cell never ran in the notebook)"
                else:
                    final = min(x for x in (auto, judged, rechecked) if x is not None)
                if auto > judged + 1e-9 and not_run is False:
                    flags.append(f"possible tampering in {gid}: the notebook shows {auto:g} points, "
                                 f"but the judge recorded {judged:g} for the check of {fn}")
                elif rechecked is not None and auto > rechecked + 1e-9:
                    flags.append(f"possible tampering in {gid}: the notebook shows {auto:g} points, "
                                 f"the re-check outside the notebook gives {rechecked:g}")
            if fn is not None:
                found = _diagnosis_of(fn, cell, info, judge, recheck, confined)
                if found is not None:
                    info["diagnosis"] = found.to_dict()
            info["final"] = final
            scores[gid] = final
            details[gid] = info
        if utils.is_solution(cell) or utils.is_task(cell):
            if (cell.metadata.nbgrader.get("checksum", None) == utils.compute_checksum(cell)
                    and not utils.is_task(cell)):
                comments[gid] = "No response."
            else:
                comments[gid] = None
    return scores, comments, flags, details


# --------------------------------------------------------------------------- executors
def _watch_parent(parent):
    """In a worker process: when the coordinator dies (even by SIGKILL), kill our kernels and exit."""
    def loop():
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                from rnncourse.run import worker

                try:
                    worker.shutdown()
                finally:
                    os._exit(1)

    threading.Thread(target=loop, name="rnncourse-parent-watch", daemon=True).start()


def _init_local_worker(parent, template, inherited_fds=()):
    from rnncourse import sandbox

    # Forked from the coordinator: its fork server object and its run lock are not ours (the
    # server is shared through RNNCOURSE_FORK_SERVER; the lock must end with the coordinator).
    sandbox.forget_fork_server()
    for fd in inherited_fds:
        try:
            os.close(fd)
        except OSError:
            pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the coordinator handles Ctrl-C
    _watch_parent(parent)
    from multiprocessing import util

    from rnncourse.run import worker

    # A forked worker ends with os._exit (no atexit): multiprocessing's finalizers still run.
    util.Finalize(None, worker.shutdown, exitpriority=10)
    if template is not None:
        from rnncourse.run.worker import warm_up

        try:
            warm_up(template)
        except Exception:  # the first task reports any real problem
            pass


def _preload_for_workers(confined):
    """Import what a worker needs (and load the reference) here, once: forked workers inherit it."""
    import nbclient  # noqa: F401
    import nbformat  # noqa: F401
    from nbgrader.preprocessors import Execute  # noqa: F401

    from rnncourse.run import worker

    if confined:
        from rnncourse.verdicts import (
            judge,  # noqa: F401
            )

        worker._reference()


class _LocalExecutor:
    """Local worker processes.

    Forked from the coordinator (``start="fork"``, where the platform has it)
    before it opens the gradebook and while it has no other thread: they
    start with nbgrader, nbclient and the reference already imported
    (:func:`_preload_for_workers`), instead of importing them again each.
    ``inherited_fds`` are closed in the workers (the run lock).
    """

    def __init__(self, workers, template=None, start="fork", inherited_fds=()):
        import multiprocessing

        if start not in multiprocessing.get_all_start_methods():
            start = "spawn"
        self.workers = workers
        self.pool = concurrent.futures.ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context(start),
            initializer=_init_local_worker, initargs=(os.getpid(), template, tuple(inherited_fds)))
        for _ in range(workers):  # start them all now (each warms up while the class is read)
            self.pool.submit(int)
        self.label = "local"

    def submit(self, task):
        from rnncourse.run.worker import execute_submission

        return self.pool.submit(execute_submission, task)

    def wait(self, futures, timeout):
        done, _ = concurrent.futures.wait(futures, timeout=timeout,
                                          return_when=concurrent.futures.FIRST_COMPLETED)
        return done

    def result(self, fut):
        return fut.result()

    def close(self, cancel=False):
        self.pool.shutdown(wait=not cancel, cancel_futures=cancel)


class _InlineExecutor:
    """``workers=0``: execute in this process, one at a time (for debugging)."""

    def __init__(self):
        self.workers = 1
        self.label = "in-process"

    def submit(self, task):
        from rnncourse.run.worker import execute_submission

        fut = concurrent.futures.Future()
        try:
            fut.set_result(execute_submission(task))
        except BaseException as exc:
            fut.set_exception(exc)
        return fut

    def wait(self, futures, timeout):
        return set(futures)

    def result(self, fut):
        return fut.result()

    def close(self, cancel=False):
        from rnncourse.run.worker import shutdown

        shutdown()


class _DaskExecutor:
    def __init__(self, address, template=None):
        try:
            from distributed import Client
        except ImportError as exc:
            raise GradingRefused(f"--scheduler needs dask.distributed: {exc}") from None
        try:
            self.client = Client(address, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise GradingRefused(f"cannot reach the Dask scheduler at {address}: {exc}. Start it "
                                 "(`dask scheduler`) and its workers (`dask worker ADDRESS`) first") from None
        nthreads = sum(self.client.nthreads().values())
        if nthreads == 0:
            self.client.wait_for_workers(1, timeout=60)
            nthreads = sum(self.client.nthreads().values())
        self.workers = max(1, nthreads)
        self.label = address
        if template is not None:
            from rnncourse.run.worker import warm_up

            try:
                self.client.run(warm_up, template, wait=False)
            except Exception:  # the first task reports any real problem
                pass

    def submit(self, task):
        from rnncourse.run.worker import execute_submission

        key = f"rnncourse-grade-{task['student']}-{hashlib.sha256(os.urandom(8)).hexdigest()[:8]}"
        return self.client.submit(execute_submission, task, key=key, pure=False, retries=1)

    def wait(self, futures, timeout):
        from distributed import wait

        try:
            done, _ = wait(list(futures), timeout=timeout, return_when="FIRST_COMPLETED")
        except (TimeoutError, concurrent.futures.TimeoutError):
            return set()
        return set(done)

    def result(self, fut):
        try:
            return fut.result()
        finally:
            fut.release()

    def close(self, cancel=False):
        self.client.close()


# --------------------------------------------------------------------------- the run
def _execute_settings(course):
    from nbgrader.preprocessors import Execute, IgnorePattern, LimitOutput

    ex = Execute(config=course.config)
    lo = LimitOutput(config=course.config)
    ip = IgnorePattern(config=course.config)
    return {
        "timeout": ex.timeout if ex.timeout is not None else 30,
        "interrupt_on_timeout": bool(ex.interrupt_on_timeout),
        "startup_timeout": ex.startup_timeout,
        # Waiting longer for a cell's last outputs changes no score; on a busy machine nbgrader's 4 s
        # fails whole submissions ("Timeout waiting for IOPub output").
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


def _fingerprint(raw_nb, extra_files, timestamp_text, setup):
    h = hashlib.sha256()
    h.update(setup.encode())
    h.update(hashlib.sha256(raw_nb if raw_nb is not None else b"<missing>").digest())
    for name in sorted(extra_files):
        h.update(name.encode() + b"\0" + hashlib.sha256(extra_files[name]).digest())
    h.update((timestamp_text or "").encode())
    return h.hexdigest()


def _timestamp(course, folder):
    path = Path(folder) / "timestamp.txt"
    if not path.exists():
        return None, None
    text = path.read_text(errors="replace").strip()
    if not text:
        return None, text
    from nbgrader.utils import parse_utc

    try:
        return parse_utc(text), text
    except (ValueError, OverflowError):
        return None, text


def _run_lock(course):
    """Hold ``.grade.lock`` in the course for this run: one coordinator, hence one writer, at a time.

    The kernel releases the lock when the process ends in any way (even SIGKILL).
    """
    import fcntl

    path = course.root / ".grade.lock"
    f = open(path, "a+")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        who = f.read().strip() or "another process"
        f.close()
        raise GradingRefused(f"another grading run holds {path} ({who}): wait for it to finish or "
                             "stop it, then run again (it resumes where that run stopped)") from None
    f.seek(0)
    f.truncate()
    f.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
    f.flush()
    return f


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
    gradebook.venv_on_path()
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
    lock = _run_lock(course)
    confined = not unsafe_no_sandbox
    if confined:
        from rnncourse import sandbox

        ok, how = sandbox.available()
        if not ok:
            raise GradingRefused(
                f"student code cannot be confined here ({how}). Fix that (see the README, "
                "'Isolation'), or, for trusted submissions only, grade unconfined with "
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
    source_files, _ = _read_files(course.source_dir(), course.ignore())
    from rnncourse.run import worker as worker_mod

    digest = worker_mod.reference_digest() if confined else None
    base_task = {"files": source_files, "limits": limits_obj.to_dict(), "execute": execute,
                 "confine": confined, "recheck": confined, "prestart": prestart, "warm": warm,
                 "figures": figures, "fork_server": fork_server, "reference_digest": digest}
    local = None
    if found and not scheduler and workers != 0:
        # Started now, before the gradebook is opened: they fork from this process with
        # everything imported and warm up while the class is read below.
        _preload_for_workers(confined)
        local = _LocalExecutor(max(1, int(workers or _default_workers())), base_task,
                               inherited_fds=(lock.fileno(),))
    try:
        return _grade_with(course, found, local, base_task, lock, t_start, cpu0, students=students,
                           scheduler=scheduler, force=force, progress=progress, export=export,
                           backup=backup, confined=confined, figures=figures,
                           limits_obj=limits_obj, execute=execute, source_files=source_files,
                           digest=digest, log=log)
    except BaseException:
        if local is not None:
            local.close(cancel=True)
        raise


def _grade_with(course, found, local, base_task, lock, t_start, cpu0, *, students, scheduler, force,
                progress, export, backup, confined, figures, limits_obj, execute, source_files, digest,
                log):
    submitted = course.submitted_dir()
    if backup:
        saved = gradebook.backup(course.db_url)
        if saved:
            log(f"gradebook backed up to {saved.name}")
    gradebook.ensure_assignment(course)
    snap = gradebook.snapshot(course)
    setup = json.dumps([GRADER_VERSION, snap.fingerprint(), confined, bool(figures), limits_obj.to_dict(),
                        execute,
                        sorted((k, hashlib.sha256(v).hexdigest()) for k, v in source_files.items()),
                        digest], sort_keys=True)
    sanitize = _Sanitizer(course, snap)
    summary = Summary(confined=confined)
    _clean_partials(course)

    with gradebook.Store(course) as store:
        statuses = store.statuses()
        todo = []
        for student in found:
            folder = submitted / student / course.assignment
            nb_path = folder / f"{course.notebook}.ipynb"
            raw = nb_path.read_bytes() if nb_path.is_file() else None
            extra, _ = _read_files(folder, course.ignore())
            ts, ts_text = _timestamp(course, folder)
            fp = _fingerprint(raw, extra, ts_text, setup)
            done = statuses.get(student)
            autograded = course.autograded_dir() / student / course.assignment
            if (not force and done is not None and done["fingerprint"] == fp
                    and (done["state"] == "failed" or (autograded / f"{course.notebook}.ipynb").exists())):
                summary.skipped.append(student)
                continue
            todo.append((student, folder, fp, ts, ts_text))

        if not todo:
            if local is not None:
                local.close(cancel=True)  # nothing to run
            executor = _InlineExecutor()
            executor.label = scheduler or "local"
            executor.workers = 0
        elif scheduler:
            executor = _DaskExecutor(scheduler, base_task)
        elif local is None:
            executor = _InlineExecutor()
        else:
            executor = local
        summary.workers, summary.mode = executor.workers, executor.label
        bar = _progress_bar(len(todo), progress)
        timings = {}

        def finish(student, outcome, files, nb_json):
            if outcome.error is None or nb_json is not None or outcome.zero_all:
                _write_autograded(course, student, files, nb_json)
            store.record(outcome)
            if outcome.error:
                summary.failed[student] = outcome.error
            else:
                summary.graded.append(student)
            if outcome.flags:
                summary.flagged[student] = outcome.flags
            if bar is not None:
                bar.update(1)
                bar.set_postfix_str(f"failed {len(summary.failed)}", refresh=False)

        def prepare(student, folder, fp, ts):
            """A task for the worker, or an Outcome when the submission cannot be run at all."""
            t = time.monotonic()
            extra, skipped = _read_files(folder, course.ignore())
            files = {**extra, **source_files}
            nb_path = folder / f"{course.notebook}.ipynb"
            if not nb_path.is_file():
                why = _notebook_problem(folder, f"{course.notebook}.ipynb")
                return None, Outcome(student, fp, ts, error=why, zero_all=True,
                                     seconds=time.monotonic() - t), files
            try:
                nb = parse_notebook(nb_path.read_bytes(), nb_path.name)
                nb = sanitize(nb, student)
                import nbformat

                nb_json = nbformat.writes(nb)
            except SubmissionProblem as exc:
                return None, Outcome(student, fp, ts, error=str(exc), zero_all=True,
                                     seconds=time.monotonic() - t), files
            except Exception as exc:  # nbgrader's sanitizers reject the notebook
                why = f"the notebook's structure is broken ({type(exc).__name__}: {str(exc)[:300]})"
                return None, Outcome(student, fp, ts, error=why, zero_all=True,
                                     seconds=time.monotonic() - t), files
            task = dict(base_task, student=student, notebook_name=course.notebook, notebook=nb_json,
                        extra_files={k: v for k, v in extra.items()
                                     if k not in source_files and k != "timestamp.txt"})
            return task, None, files

        def collect(student, fp, ts, files, result, started, task):
            if result.get("infra_error"):
                if retried.get(student, 0) < 1:  # once more in this run (a worker lost, a busy machine)
                    retried[student] = retried.get(student, 0) + 1
                    queue.append((student, None, fp, ts, task, files))
                    return
                summary.retry[student] = result["infra_error"]
                if bar is not None:
                    bar.update(1)
                return
            for k, v in (result.get("timings") or {}).items():
                timings.setdefault(k, []).append(v)
            nb_json = result.get("notebook")
            if nb_json is None:
                finish(student, Outcome(student, fp, ts, error=result.get("error") or "no notebook came back",
                                        zero_all=True, seconds=time.monotonic() - started), files, None)
                return
            scores, comments, flags, details = score_notebook(
                nb_json, confined, result.get("judge"), result.get("recheck"))
            details["_worker"] = result.get("worker")
            nb_json, inert = safe_notebook.sanitize_json(nb_json)  # after scoring: no score changes
            if inert:
                details["_made_inert"] = inert[:20]
            if result.get("judge_events"):
                flags = flags + [f"judge: {e}" for e in result["judge_events"][:5]]
            finish(student, Outcome(student, fp, ts, scores=scores, comments=comments,
                                    error=result.get("error"), flags=flags, details=details,
                                    seconds=time.monotonic() - started), files, nb_json)

        pending = {}
        queue = collections.deque((s, folder, fp, ts, None, None) for s, folder, fp, ts, _ in todo)
        retried = {}
        limit = max(2, 2 * executor.workers)
        try:
            while queue or pending:
                while queue and len(pending) < limit:
                    student, folder, fp, ts, task, files = queue.popleft()
                    if task is None:
                        task, outcome, files = prepare(student, folder, fp, ts)
                        if outcome is not None:
                            finish(student, outcome, files, None)
                            continue
                    fut = executor.submit(task)
                    pending[fut] = (student, fp, ts, files, time.monotonic(), task)
                if not pending:
                    continue
                for fut in executor.wait(pending, timeout=1.0):
                    student, fp, ts, files, started, task = pending.pop(fut)
                    try:
                        result = executor.result(fut)
                    except Exception as exc:  # the worker process or Dask worker died
                        result = {"infra_error": f"the worker failed: {type(exc).__name__}: {exc}"}
                    try:
                        collect(student, fp, ts, files, result, started, task)
                    except Exception as exc:
                        summary.retry[student] = f"could not record the result: {type(exc).__name__}: {exc}"
                        if os.environ.get("RNNCOURSE_DEBUG"):
                            raise
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
    forked = None
    if confined:
        from rnncourse import sandbox
        from rnncourse.run.worker import _tree_cpu

        pid = sandbox.fork_server_pid()
        if pid is not None and todo:
            # Re-checks and the forks' start-up; a kernel's own CPU is in kernel_cpu (its tree
            # is killed, not reaped, so it is not counted here).
            forked = _tree_cpu(pid) / len(todo)
        sandbox.stop_fork_server()
    summary.timings = {k: round(sum(v) / len(v), 4) for k, v in timings.items() if v}
    if forked is not None:
        summary.timings["forked_cpu"] = round(forked, 4)
    own = os.times()
    if todo:
        summary.timings["coordinator_cpu"] = round((own.user + own.system - cpu0.user - cpu0.system)
                                                   / len(todo), 4)
    summary.seconds = time.monotonic() - t_start
    return summary


def report_rows(root=None, db_url=None):
    """The runner's per-student records: ``[{student, state, error, flags, graded_at}, ...]``."""
    course = gradebook.load_course(root, db_url)
    with gradebook.Store(course) as store:
        rows = store.statuses()
    out = []
    for student, r in sorted(rows.items()):
        out.append({"student": student, "state": r["state"], "error": r["error"],
                    "flags": json.loads(r["flags"] or "[]"),
                    "graded_at": r["graded_at"].isoformat() if isinstance(r["graded_at"], datetime.datetime)
                    else r["graded_at"]})
    return out


# --------------------------------------------------------------------------- command line
CLI_DESCRIPTION = """\
Grade every submission under submitted/<student>/rnn_lstm/ into the course
gradebook, write autograded/<student>/rnn_lstm/ as `nbgrader autograde` does,
and export grades.csv. Scores equal stock `nbgrader autograde` cell by cell;
student code runs confined (see the README, 'Isolation'), each submission in
a fresh kernel.

Runs are resumable: kill one at any point and run it again; submissions
already graded and unchanged are skipped (--force regrades them).

examples:
  python -m rnncourse.cli grade                      # all cores of this machine
  python -m rnncourse.cli grade --workers 8
  python -m rnncourse.cli grade --scheduler tcp://10.0.0.5:8786   # a Dask cluster
  python -m rnncourse.cli grade --force --student alice --student bob
  make grade WORKERS=4 | make grade SCHEDULER=tcp://host:8786 | make grade FORCE=1
"""


def add_arguments(p):
    """The ``grade`` subcommand's options."""
    p.add_argument("--root", help="course directory (default: RNNCOURSE_ROOT, else this package's course)")
    p.add_argument("--workers", type=int, default=None,
                   help="local worker processes (default: number of cores; 0 = in this process)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="Dask distributed scheduler, e.g. tcp://host:8786: each submission is a task there")
    p.add_argument("--force", action="store_true", help="regrade submissions already graded and unchanged")
    p.add_argument("--student", action="append", metavar="ID", help="grade only this student (repeatable)")
    p.add_argument("--db-url", help="gradebook URL (default: the course's, sqlite:///gradebook.db); "
                   "e.g. postgresql://user@host/db (password in ~/.pgpass or PGPASSWORD)")
    p.add_argument("--cell-timeout", type=float, help="seconds per cell (default: the course's "
                   "ExecutePreprocessor.timeout, 30)")
    p.add_argument("--total-timeout", type=float, help="seconds per submission in all (default 600)")
    p.add_argument("--memory", type=float, help="memory limit per process, GiB (default 2)")
    p.add_argument("--cpus", type=float, help="CPU cores all processes of one submission may use "
                   "together (default 1; a CPU cgroup, where the grader can create one)")
    p.add_argument("--unsafe-no-sandbox", action="store_true",
                   default=os.environ.get("UNSAFE_NO_SANDBOX", "") not in ("", "0"),
                   help="run student code UNCONFINED with your rights (trusted submissions only; "
                   "also UNSAFE_NO_SANDBOX=1)")
    p.add_argument("--no-prestart", action="store_true",
                   help="do not start each worker's next kernel ahead (slower; for measurements)")
    p.add_argument("--no-warm", action="store_true",
                   help="do not pre-import numpy/matplotlib in kernels (slower; for measurements)")
    p.add_argument("--no-fork-server", action="store_true",
                   help="exec every confined kernel and re-check anew instead of forking them from a "
                   "process that imported their modules once (slower; for measurements)")
    p.add_argument("--no-figures", action="store_true",
                   help="build the notebook's figures without drawing them (same scores; autograded "
                   "notebooks then show <Figure ...> instead of images; no faster since the course's "
                   "helper draws nothing while grading, see the README)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-scores", action="store_true",
                   help="do not print the class's scores per student and function after the run")
    p.add_argument("--no-export", action="store_true", help="do not write grades.csv")
    p.add_argument("--timings", action="store_true", help="print mean per-submission timings of the workers")


def _scores_text(root, db_url, export=True):
    """The class's scores per student and function, as ``make grade`` prints them after a run."""
    from rnncourse.run import gradetable

    course = gradebook.load_course(root, db_url)
    csv_path = course.root / "grades.csv" if export else None
    return gradetable.text(gradebook.grades(course.db_url, course.assignment), csv_path)


def main(args):
    """Run the ``grade`` subcommand; exit status 0 when every submission has a recorded result."""
    limits = {}
    if args.cell_timeout:
        limits["cell_timeout"] = args.cell_timeout
    if args.total_timeout:
        limits["total_timeout"] = args.total_timeout
    if args.memory:
        limits["memory"] = int(args.memory * 1024 ** 3)
    if args.cpus:
        limits["cpus"] = args.cpus
    try:
        summary = grade_class(
            args.root, students=args.student, workers=args.workers, scheduler=args.scheduler,
            force=args.force, db_url=args.db_url, limits=limits or None,
            unsafe_no_sandbox=args.unsafe_no_sandbox, progress=not args.no_progress,
            export=not args.no_export, prestart=not args.no_prestart, warm=not args.no_warm,
            figures=not args.no_figures, fork_server=not args.no_fork_server)
    except (GradingRefused, CourseError, ValueError) as exc:
        print(f"grade: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("grade: interrupted; everything recorded so far is kept. Run it again to finish.",
              file=sys.stderr)
        return 130
    print(summary.text())
    if not args.no_scores:
        print()
        print(_scores_text(args.root, args.db_url, export=not args.no_export))
    if args.timings and summary.timings:
        print("mean per-submission timings (s): " + ", ".join(
            f"{k} {v:.3g}" for k, v in sorted(summary.timings.items())))
    return 0 if summary.ok else 1
