"""One fresh kernel for one submission: its working directory, and its sandbox and judge when confined.

A :class:`KernelSpec` says what a kernel needs before its submission is known (the released
files, limits, settings); kernels of the same spec are interchangeable, which is what lets a
worker start the next one ahead (:mod:`rnncourse.run.kernel_pool`).
"""

import hashlib
import json
import os
import shutil
import signal
import tempfile
import threading
import time
from dataclasses import dataclass

from rnncourse.run.cpu_time import tree_cpu

SPARE_MAX_AGE = 60.0
"""Seconds a prestarted kernel may wait for its submission before it is thrown away."""

WARMUP = """
import io
import numpy
import matplotlib
import matplotlib.pyplot
from matplotlib.figure import Figure
fig = Figure(figsize=(4, 3), dpi=72)
ax1, ax2 = fig.subplots(1, 2)
im = ax1.imshow(numpy.zeros((3, 4)), aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1,
                interpolation="nearest")
fig.colorbar(im, ax=ax1)
ax1.set_title("$\\\\Gamma_f$ $a^{(0)<t>}$ $\\\\tilde c$")
ax1.set_xlabel("time step t")
ax2.plot([0.0, 1.0], marker=".", label="unit 0")
ax2.legend(fontsize="small", loc="best")
fig.suptitle("warm-up")
fig.savefig(io.BytesIO(), format="png", bbox_inches="tight")
"""
"""Run in a private namespace before the kernel reports ready (nothing of it is visible to the notebook)."""

WARM_IMPORTS = "import numpy\nimport matplotlib\nimport matplotlib.pyplot\n"
"""The warm-up when figures are not drawn."""

NO_FIGURES = "get_ipython().run_line_magic('config', 'InlineBackend.figure_formats = set()')\n"
"""Figures are built by the notebook's code but not drawn: each shows as text, ``<Figure size ...>``."""


def warmup_argument(warm, figures):
    """The kernel option that runs the warm-up (and the figure setting) before the kernel is ready."""
    # The course's helper draws no figure while autograding (NBGRADER_EXECUTION), so drawing
    # one in the warm-up would only spend CPU: imports are what the kernel needs ready.
    code = WARM_IMPORTS if warm else ""
    if not figures:
        code = (code or "import matplotlib.pyplot\n") + NO_FIGURES
    if not code:
        return None
    line = f"exec(compile({code!r}, '<rnncourse-warmup>', 'exec'), {{}})"
    return "--IPKernelApp.exec_lines=" + json.dumps([line])


@dataclass(frozen=True)
class KernelSpec:
    """What a kernel needs before its submission is known.

    Attributes
    ----------
    files : dict
        ``{name: bytes}``, the released files of the working directory.
    limits : dict
        :class:`rnncourse.sandbox.Limits` as a dict.
    execute : dict
        :data:`rnncourse.run.tasks.EXECUTE_DEFAULTS` fields.
    confine, warm, figures, fork_server : bool
        As in :class:`rnncourse.run.tasks.Task`.
    """

    files: dict
    limits: dict
    execute: dict
    confine: bool = True
    warm: bool = True
    figures: bool = True
    fork_server: bool = True

    @classmethod
    def from_task(cls, task):
        """The spec of a :class:`rnncourse.run.tasks.Task`."""
        return cls(files=task.files, limits=task.limits, execute=task.execute, confine=task.confine,
                   warm=task.warm, figures=task.figures, fork_server=task.fork_server)

    def key(self):
        """A digest equal for specs whose kernels are interchangeable."""
        h = hashlib.sha256()
        for name in sorted(self.files):
            h.update(name.encode() + b"\0" + hashlib.sha256(self.files[name]).digest())
        h.update(json.dumps([self.limits, self.execute, self.confine, self.warm, self.figures],
                            sort_keys=True).encode())
        return h.hexdigest()


class Kernel:
    """One fresh kernel in its own working directory (and sandbox and judge when confined).

    Parameters
    ----------
    spec : KernelSpec
    """

    def __init__(self, spec):
        self.spec = spec
        self.workdir = None
        self.sandbox = None
        self.judge = None
        self.km = None
        self.launched = None
        self.lock = threading.Lock()

    def start(self):
        """Make the working directory and start the kernel in it; returns ``self``."""
        self.workdir = tempfile.mkdtemp(prefix="rnncourse-work-")
        os.chmod(self.workdir, 0o700)
        self.add_files(self.spec.files)
        self.km = self._confined_manager() if self.spec.confine else self._plain_manager()
        # As stock nbgrader tells its kernels (a sandbox passes it through): the course's helper
        # then skips drawing figures, which earn no points.
        env = dict(os.environ, NBGRADER_EXECUTION="autograde")
        self.launched = time.monotonic()
        self.km.start_kernel(extra_arguments=self._arguments(), cwd=self.workdir, env=env)
        return self

    def add_files(self, files):
        """Write ``{name: bytes}`` (plain names) into the working directory."""
        for name, content in files.items():
            with open(os.path.join(self.workdir, name), "wb") as f:
                f.write(content)

    def _arguments(self):
        args = list(self.spec.execute["extra_arguments"]) or ["--HistoryManager.hist_file=:memory:"]
        warmup = warmup_argument(self.spec.warm, self.spec.figures)
        if warmup:
            args.append(warmup)
        return args

    def _confined_manager(self):
        """The judge, the sandbox, and a kernel manager that starts the kernel inside it."""
        from rnncourse.confinement import course_contents
        from rnncourse.run import trusted_reference
        from rnncourse.sandbox import Limits, Sandbox
        from rnncourse.verdicts.judge import Judge

        if self.spec.fork_server:
            from rnncourse.sandbox import start_fork_server

            start_fork_server()
        limits = Limits.from_dict(self.spec.limits)
        data, ref = trusted_reference.load()
        # Course order in the kernel too: once a sequence function is begun, the function
        # its reference cell stands for can no longer be begun (docs/isolation.md).
        self.judge = Judge(limits=limits, data=data, ref=ref, strict_order=True)
        self.sandbox = Sandbox(self.workdir, limits, judge_dir=self.judge.directory,
                               contents=course_contents())
        self.judge.owner = self.sandbox.uid if self.sandbox.root_mode else None
        self.judge.start()
        # A synchronous manager: started here (maybe in a helper thread), used later by nbclient.
        return self.sandbox.kernel_manager(kernel_name=self.spec.execute["kernel_name"], asynchronous=False)

    def _plain_manager(self):
        from jupyter_client import KernelManager

        # Its clients asynchronous, as nbclient needs (a blocking one would hang when the kernel dies).
        return KernelManager(kernel_name=self.spec.execute["kernel_name"],
                             client_class="rnncourse.sandbox.kernel_client.ReadyKernelClient")

    def age(self):
        """Seconds since the kernel was launched."""
        return time.monotonic() - self.launched

    def usable(self):
        """Alive, and not older than :data:`SPARE_MAX_AGE`."""
        try:
            return self.age() < SPARE_MAX_AGE and self.km.is_alive()
        except Exception:
            return False

    def cpu_seconds(self):
        """CPU time used so far by the kernel's processes (the wrapper and everything below it)."""
        if self.sandbox is not None and self.sandbox.pids():
            return tree_cpu(self.sandbox.pids()[0])  # the wrapper, also when a fork server made it
        try:
            pid = self.km.provisioner.process.pid
        except AttributeError:
            return None
        return tree_cpu(pid)

    def kill(self):
        """Kill every process of this kernel now (safe to call from another thread, twice)."""
        with self.lock:
            if self.sandbox is not None:
                self.sandbox.kill_all()
            # The kernel's launcher (unconfined: the kernel itself), started in a session of its
            # own by jupyter_client: its whole process group goes.
            proc = getattr(getattr(self.km, "provisioner", None), "process", None)
            if proc is not None and proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    proc.kill()
                proc.wait(timeout=10)

    def close(self):
        """Kill everything and remove the working directory."""
        self.kill()
        try:
            if self.km is not None:
                self.km.cleanup_resources()
        except Exception:
            pass
        if self.sandbox is not None:
            self.sandbox.close()
        if self.judge is not None:
            self.judge.close()
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        self.workdir = None
