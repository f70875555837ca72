"""Resource limits of one submission's sandbox, plain data at every process boundary."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Limits:
    """Resource limits for one submission (all positive; sizes in bytes, times in seconds).

    Attributes
    ----------
    cell_timeout : float
        Per notebook cell (nbgrader's ``ExecutePreprocessor.timeout``, 30 s), and
        per cell / per function in the re-check.
    total_timeout : float
        Wall time of one confined command: the sandbox kills its whole process
        tree when it is reached (also the hard CPU-time limit).
    memory : int
        Address space per process (``RLIMIT_AS``), 2 GiB.
    output_bytes : int
        Output kept per cell; the rest is cut (flood protection), 1 MiB.
    processes : int
        Processes and threads of the sandbox's uid (``RLIMIT_NPROC``; only
        enforced per sandbox when grading runs as root), 64.
    file_size : int
        Largest file the code may write (``RLIMIT_FSIZE``), 64 MiB.
    open_files : int
        Open file descriptors per process (``RLIMIT_NOFILE``), 256.
    tmp_size : int
        Size of the private ``/tmp`` (tmpfs, counts as memory), 256 MiB.
    message_bytes : int
        Largest message to the judge, 32 MiB.
    memory_total : int
        Memory (RAM and ``/tmp``) of all processes of one sandbox together,
        4 GiB, enforced by a memory cgroup where the grader may create one
        (see :attr:`Sandbox.cgroup`); otherwise only ``memory`` per process holds.
    work_size : int
        Size of the working directory, 256 MiB: as root it becomes a tmpfs of
        that size, so student code cannot fill the host's disk.
    cpus : float
        CPU time of all processes of one sandbox together, in cores (1.0: at
        most one core however many processes it starts), enforced by a CPU
        cgroup where the grader may create one (:attr:`Sandbox.cpu_cgroup`);
        otherwise only the CPU time per process (``RLIMIT_CPU``) and the
        process count (``processes``) bound it.
    """

    cell_timeout: float = 30.0
    total_timeout: float = 600.0
    memory: int = 2 * 1024 ** 3
    output_bytes: int = 1024 ** 2
    processes: int = 64
    file_size: int = 64 * 1024 ** 2
    open_files: int = 256
    tmp_size: int = 256 * 1024 ** 2
    message_bytes: int = 32 * 1024 ** 2
    memory_total: int = 4 * 1024 ** 3
    work_size: int = 256 * 1024 ** 2
    cpus: float = 1.0

    def __post_init__(self):
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
                raise ValueError(f"Limits.{f.name} must be a positive number, got {v!r}")

    @classmethod
    def from_dict(cls, d):
        """Limits from a plain dict (e.g. a task's ``"limits"``); missing keys keep the defaults."""
        if d is None:
            return cls()
        if isinstance(d, cls):
            return d
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown limits {sorted(unknown)}; known: "
                             f"{[f.name for f in dataclasses.fields(cls)]}")
        return cls(**d)

    def to_dict(self):
        return dataclasses.asdict(self)
