"""What travels between the coordinator and a worker: a :class:`Task` and its :class:`TaskResult`.

Both cross a process boundary (a local worker process, or a Dask worker) as plain dicts, made by
``to_dict`` and read back by ``from_dict``; keys one side does not know are ignored, so a
coordinator and a worker of slightly different versions still understand each other.
"""

import dataclasses
from dataclasses import dataclass, field

EXECUTE_DEFAULTS = {
    "timeout": 30,
    "interrupt_on_timeout": True,
    "startup_timeout": 60,
    "iopub_timeout": 4,
    "raise_on_iopub_timeout": True,
    "extra_arguments": [],
    "kernel_name": "python3",
    "max_lines": 1000,
    "max_traceback": 100,
    "ignore_pattern": "",
    "ignore_enabled": False,
}
"""Execution settings (nbgrader's ``Execute``, ``LimitOutput`` and ``IgnorePattern`` options)."""


def _known(cls, data):
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in dict(data or {}).items() if k in names}


def plain_files(files):
    """``{name: bytes}`` of ``files``, every name a plain file name (no folder, no ``..``).

    Raises
    ------
    ValueError
        For a name that is not a plain file name.
    """
    from rnncourse.sandbox import is_plain_file_name

    out = {}
    for name, content in (files or {}).items():
        if not is_plain_file_name(name):
            raise ValueError(f"task file name {name!r}: plain file names only")
        out[name] = content if isinstance(content, bytes) else str(content).encode()
    return out


@dataclass
class Task:
    """One submission as a worker executes it (:func:`rnncourse.run.worker.execute_submission`).

    Attributes
    ----------
    student : str
    notebook_name : str
    notebook : str or None
        The sanitized notebook's JSON (None in the template a worker warms up with).
    files : dict
        ``{name: bytes}``, the released files put beside it; the same for every student, so
        kernels can be started before their submission is known.
    extra_files : dict
        ``{name: bytes}``, files the student submitted beside the notebook, added when the kernel
        is taken; a released file of the same name wins.
    limits : dict
        :class:`rnncourse.sandbox.Limits` as a dict, every field filled in.
    execute : dict
        :data:`EXECUTE_DEFAULTS`, updated with the task's settings.
    confine : bool
        Sandbox, judge and re-check; False runs the kernel unconfined like stock nbgrader.
    recheck : bool
        Run the re-check (when confined).
    prestart : bool
        Start the next kernel now.
    warm : bool
        Pre-import numpy and matplotlib in the kernel before it reports ready.
    figures : bool
        Draw figures as stock nbgrader; False builds them without drawing (much cheaper).
    fork_server : bool
        Start confined programs as forks of this worker's fork server.
    reference_digest : str or None
        Refuse to grade with other reference data than the coordinator's.
    """

    student: str = None
    notebook_name: str = None
    notebook: str = None
    files: dict = field(default_factory=dict)
    extra_files: dict = field(default_factory=dict)
    limits: dict = field(default_factory=dict)
    execute: dict = field(default_factory=lambda: dict(EXECUTE_DEFAULTS))
    confine: bool = True
    recheck: bool = True
    prestart: bool = True
    warm: bool = True
    figures: bool = True
    fork_server: bool = True
    reference_digest: str = None

    @classmethod
    def from_dict(cls, data):
        """The task from its plain dict, checked and completed with the defaults.

        Raises
        ------
        ValueError
            For a file name that is not plain, or limits that are not valid.
        """
        from rnncourse.sandbox import Limits

        d = _known(cls, data)
        files = plain_files(d.get("files"))
        extra = {k: v for k, v in plain_files(d.get("extra_files")).items() if k not in files}
        flags = {k: bool(d.get(k, True)) for k in
                 ("confine", "recheck", "prestart", "warm", "figures", "fork_server")}
        return cls(student=d.get("student"), notebook_name=d.get("notebook_name"),
                   notebook=d.get("notebook"), files=files, extra_files=extra,
                   limits=Limits.from_dict(d.get("limits")).to_dict(),
                   execute={**EXECUTE_DEFAULTS, **(d.get("execute") or {})},
                   reference_digest=d.get("reference_digest") or None, **flags)

    def to_dict(self):
        return dataclasses.asdict(self)


@dataclass
class TaskResult:
    """What a worker sent back for one task (the plain dict of ``execute_submission``).

    Attributes
    ----------
    student : str
    notebook : str or None
        The executed notebook's JSON.
    error : str or None
        What went wrong with this submission.
    infra_error : str or None
        A failure of the grading machinery, not of the submission; retried on the next run.
    judge : dict or None
        ``{fn: {"points", "report", "mistakes", "diagnosis"}}`` recorded by the judge for the
        in-kernel checks (None when unconfined).
    recheck : dict or None
        ``{fn: {"points", "report", "diagnosis"}}``.
    judge_events : list or None
        What the judge noticed (refused requests and the like), if anything.
    timings : dict
        ``{name: seconds}``.
    worker : str
        ``host:pid``.
    prestart_error : str or None
        Why the kernel started ahead for a previous task could not start.
    """

    student: str = None
    notebook: str = None
    error: str = None
    infra_error: str = None
    judge: dict = None
    recheck: dict = None
    judge_events: list = None
    timings: dict = None
    worker: str = None
    prestart_error: str = None

    @classmethod
    def from_dict(cls, data):
        """The result from the worker's dict (keys this version does not know are ignored)."""
        return cls(**_known(cls, data))

    def to_dict(self):
        return dataclasses.asdict(self)
