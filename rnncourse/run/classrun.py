"""One run over a class: each submission as a :class:`Job`, sent to an executor, collected, recorded.

The coordinator (:func:`rnncourse.run.runner.grade_class`) builds the jobs and the executor; a
:class:`ClassRun` keeps a few submissions in flight per worker, scores what comes back
(:class:`rnncourse.run.tasks.TaskResult`, read from the worker's plain dict) and records it in the gradebook.
"""

import collections
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from rnncourse.run.gradebook import Outcome
from rnncourse.run.scoring import score_notebook
from rnncourse.run.submission import SubmissionProblem, notebook_problem, parse_notebook, read_files
from rnncourse.run.tasks import TaskResult
from rnncourse.sanitize import safe_notebook

RETRIES = 1
"""A failure of the machinery (a worker lost, a busy machine) is retried this many times in a run."""

IN_FLIGHT_PER_WORKER = 2
"""Submissions handed to the executor per worker: the next one is ready when a worker finishes."""


@dataclass
class Job:
    """One submission on its way through a run.

    Attributes
    ----------
    student : str
    folder : Path
        ``submitted/<student>/<assignment>/``.
    fingerprint : str
        :func:`rnncourse.run.fingerprint.fingerprint` of the submission under this run's setup.
    timestamp : datetime or None
        Its ``timestamp.txt``, as nbgrader reads it.
    task : dict or None
        What the worker gets (:func:`rnncourse.run.worker.execute_submission`'s argument), once
        prepared.
    files : dict
        ``{name: bytes}`` written beside the notebook in ``autograded/``.
    started : float
        ``time.monotonic()`` when it was handed to the executor.
    retries : int
        Times it was sent again after a failure of the machinery.
    """

    student: str
    folder: Path
    fingerprint: str
    timestamp: object = None
    task: dict = None
    files: dict = field(default_factory=dict)
    started: float = 0.0
    retries: int = 0


class ClassRun:
    """Run ``jobs`` on ``executor`` and record every outcome in ``store``.

    Parameters
    ----------
    course : rnncourse.run.gradebook.Course
    store : rnncourse.run.gradebook.Store
        Open for this run; the only writer of the gradebook.
    executor : LocalExecutor, InlineExecutor or DaskExecutor
    summary : rnncourse.run.summary.Summary
        Filled in as results are recorded.
    base_task : dict
        The task fields every submission shares (files, limits, settings).
    source_files : dict
        ``{name: bytes}`` released with the assignment (they replace the student's copies).
    sanitize : rnncourse.run.nbgrader_sanitize.NbgraderSanitizer
    confined : bool
    write_autograded : callable
        ``write_autograded(course, student, files, nb_json)``.
    bar : tqdm or None
    """

    def __init__(self, course, store, executor, summary, *, base_task, source_files, sanitize, confined,
                 write_autograded, bar=None):
        self.course, self.store, self.executor, self.summary = course, store, executor, summary
        self.base_task, self.source_files, self.sanitize = base_task, source_files, sanitize
        self.confined, self.write_autograded, self.bar = confined, write_autograded, bar
        self.timings = {}

    def run(self, jobs):
        """Grade every job; returns when all are recorded (or left for the next run)."""
        queue = collections.deque(jobs)
        pending = {}
        limit = max(2, IN_FLIGHT_PER_WORKER * self.executor.workers)
        while queue or pending:
            while queue and len(pending) < limit:
                job = queue.popleft()
                if job.task is None:
                    outcome = self.prepare(job)
                    if outcome is not None:
                        self.finish(job, outcome, None)
                        continue
                fut = self.executor.submit(job.task)
                job.started = time.monotonic()
                pending[fut] = job
            if not pending:
                continue
            for fut in self.executor.wait(pending, timeout=1.0):
                job = pending.pop(fut)
                try:
                    result = TaskResult.from_dict(self.executor.result(fut))
                except Exception as exc:  # the worker process or Dask worker died
                    result = TaskResult(infra_error=f"the worker failed: {type(exc).__name__}: {exc}")
                try:
                    if self.collect(job, result):
                        queue.append(job)
                except Exception as exc:
                    self.summary.retry[job.student] = (f"could not record the result: "
                                                       f"{type(exc).__name__}: {exc}")
                    if os.environ.get("RNNCOURSE_DEBUG"):
                        raise

    def prepare(self, job):
        """Set ``job.task`` and ``job.files``; an :class:`Outcome` instead when it cannot run at all."""
        course = self.course
        t = time.monotonic()
        extra, _ = read_files(job.folder, course.ignore())
        job.files = {**extra, **self.source_files}
        nb_path = job.folder / f"{course.notebook}.ipynb"
        if not nb_path.is_file():
            why = notebook_problem(job.folder, f"{course.notebook}.ipynb")
            return self._failed(job, why, t)
        try:
            nb = parse_notebook(nb_path.read_bytes(), nb_path.name)
            nb = self.sanitize(nb, job.student)
            import nbformat

            nb_json = nbformat.writes(nb)
        except SubmissionProblem as exc:
            return self._failed(job, str(exc), t)
        except Exception as exc:  # nbgrader's sanitizers reject the notebook
            why = f"the notebook's structure is broken ({type(exc).__name__}: {str(exc)[:300]})"
            return self._failed(job, why, t)
        job.task = dict(self.base_task, student=job.student, notebook_name=course.notebook, notebook=nb_json,
                        extra_files={k: v for k, v in extra.items()
                                     if k not in self.source_files and k != "timestamp.txt"})
        return None

    def _failed(self, job, why, since):
        return Outcome(job.student, job.fingerprint, job.timestamp, error=why, zero_all=True,
                       seconds=time.monotonic() - since)

    def collect(self, job, result):
        """Score and record one result; True when the job must be sent again."""
        if result.infra_error:
            if job.retries < RETRIES:
                job.retries += 1
                return True
            self.summary.retry[job.student] = result.infra_error
            if self.bar is not None:
                self.bar.update(1)
            return False
        for k, v in (result.timings or {}).items():
            self.timings.setdefault(k, []).append(v)
        if result.notebook is None:
            self.finish(job, self._failed(job, result.error or "no notebook came back", job.started), None)
            return False
        scores, comments, flags, details = score_notebook(result.notebook, self.confined, result.judge,
                                                          result.recheck)
        details["_worker"] = result.worker
        nb_json, inert = safe_notebook.sanitize_json(result.notebook)  # after scoring: no score changes
        if inert:
            details["_made_inert"] = inert[:20]
        if result.judge_events:
            flags = flags + [f"judge: {e}" for e in result.judge_events[:5]]
        self.finish(job, Outcome(job.student, job.fingerprint, job.timestamp, scores=scores,
                                 comments=comments, error=result.error, flags=flags, details=details,
                                 seconds=time.monotonic() - job.started), nb_json)
        return False

    def finish(self, job, outcome, nb_json):
        """Write ``autograded/`` (when there is something to show) and record the outcome."""
        if outcome.error is None or nb_json is not None or outcome.zero_all:
            self.write_autograded(self.course, job.student, job.files, nb_json)
        self.store.record(outcome)
        if outcome.error:
            self.summary.failed[job.student] = outcome.error
        else:
            self.summary.graded.append(job.student)
        if outcome.flags:
            self.summary.flagged[job.student] = outcome.flags
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(f"failed {len(self.summary.failed)}", refresh=False)
