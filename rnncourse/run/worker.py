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
"""

import atexit
import hashlib
import json
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
import traceback

import rnncourse.run.skip_slow_imports  # noqa: F401 (first: before anything imports nbformat)

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


def _warmup_argument(warm, figures):
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


# --------------------------------------------------------------------------- trusted reference
_REFERENCE = {}
_REF_LOCK = threading.Lock()


def reference_digest():
    """Fingerprint of the reference arrays and the master notebook's solutions this process grades with."""
    from rnncourse import paths
    from rnncourse.content import reference

    h = hashlib.sha256(paths.reference_data().read_bytes())
    for k, v in sorted(reference.solution_sources().items()):
        h.update(f"{k}\0{v}\0".encode())
    return h.hexdigest()[:16]


def _reference():
    """``(data, ref)``: reference arrays and reference module, loaded once per process."""
    with _REF_LOCK:
        if "data" not in _REFERENCE:
            from rnncourse.content import refdata, reference

            _REFERENCE["data"] = refdata.load()
            _REFERENCE["ref"] = reference.load()
            _REFERENCE["digest"] = reference_digest()
        return _REFERENCE["data"], _REFERENCE["ref"]


# --------------------------------------------------------------------------- kernels
class Kernel:
    """One fresh kernel in its own working directory (and sandbox and judge when confined).

    Parameters
    ----------
    spec : dict
        ``files``, ``limits``, ``execute`` and ``confine`` of a task.
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
        from rnncourse.sandbox import Limits

        limits = Limits.from_dict(self.spec["limits"])
        execute = self.spec["execute"]
        self.workdir = tempfile.mkdtemp(prefix="rnncourse-work-")
        os.chmod(self.workdir, 0o700)
        for name, content in self.spec["files"].items():
            with open(os.path.join(self.workdir, name), "wb") as f:
                f.write(content)
        args = list(execute["extra_arguments"]) or ["--HistoryManager.hist_file=:memory:"]
        warmup = _warmup_argument(self.spec.get("warm", True), self.spec.get("figures", True))
        if warmup:
            args.append(warmup)
        if self.spec["confine"]:
            from rnncourse.confinement import course_contents
            from rnncourse.sandbox import Sandbox
            from rnncourse.verdicts.judge import Judge

            if self.spec.get("fork_server", True):
                from rnncourse.sandbox import start_fork_server

                start_fork_server()
            data, ref = _reference()
            # Course order in the kernel too: once a sequence function is begun, the function
            # its reference cell stands for can no longer be begun (docs/isolation.md).
            self.judge = Judge(limits=limits, data=data, ref=ref, strict_order=True)
            self.sandbox = Sandbox(self.workdir, limits, judge_dir=self.judge.directory,
                                   contents=course_contents())
            self.judge.owner = self.sandbox.uid if self.sandbox.root_mode else None
            self.judge.start()
            # A synchronous manager: started here (maybe in a helper thread), used later by nbclient.
            self.km = self.sandbox.kernel_manager(kernel_name=execute["kernel_name"], asynchronous=False)
            # As stock nbgrader tells its kernels (the sandbox passes it through): the helper
            # then skips drawing figures, which earn no points.
            env = dict(os.environ, NBGRADER_EXECUTION="autograde")
        else:
            from jupyter_client import KernelManager

            # Its clients asynchronous, as nbclient needs (a blocking one would hang when the kernel dies).
            self.km = KernelManager(kernel_name=execute["kernel_name"],
                                    client_class="rnncourse.sandbox.kernel_client.ReadyKernelClient")
            env = dict(os.environ, NBGRADER_EXECUTION="autograde")
        self.launched = time.monotonic()
        kw = {"extra_arguments": args, "cwd": self.workdir}
        if env is not None:
            kw["env"] = env
        self.km.start_kernel(**kw)
        return self

    def age(self):
        return time.monotonic() - self.launched

    def usable(self):
        try:
            return self.age() < SPARE_MAX_AGE and self.km.is_alive()
        except Exception:
            return False

    def cpu_seconds(self):
        """CPU time used so far by the kernel's processes (the wrapper and everything below it)."""
        if self.sandbox is not None and self.sandbox.pids():
            return _tree_cpu(self.sandbox.pids()[0])  # the wrapper, also when a fork server made it
        try:
            pid = self.km.provisioner.process.pid
        except AttributeError:
            return None
        return _tree_cpu(pid)

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


def _forked_cpu():
    """CPU seconds of this process's fork server and all it ran so far, or None without one."""
    from rnncourse.sandbox import fork_server_pid

    pid = fork_server_pid()
    return _tree_cpu(pid) if pid is not None else None


def _tree_cpu(root):
    """User + system CPU seconds of ``root`` and its live descendants (their reaped children included)."""
    tick = os.sysconf("SC_CLK_TCK")
    parent, cpu = {}, {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parent[int(name)] = int(fields[1])
        cpu[int(name)] = sum(int(x) for x in fields[11:15])
    total, todo = 0, [root]
    children = {}
    for pid, ppid in parent.items():
        children.setdefault(ppid, []).append(pid)
    while todo:
        pid = todo.pop()
        total += cpu.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total / tick


class _Pool:
    """Per-process spare kernels, keyed by what a task needs; each kernel is handed out once."""

    def __init__(self):
        self.lock = threading.Lock()
        self.spares = {}
        self.last_error = None
        atexit.register(self.close)

    def take(self, key, spec):
        with self.lock:
            spare = self.spares.pop(key, None)
        if spare is not None:
            if spare.usable():
                return spare, True
            spare.close()
        return Kernel(spec).start(), False

    def prestart(self, key, spec):
        with self.lock:
            if key in self.spares:
                return
            self.spares[key] = None  # reserved while it starts
        try:
            kernel = Kernel(spec).start()
        except Exception as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            with self.lock:
                self.spares.pop(key, None)
            return
        with self.lock:
            self.spares[key] = kernel
        timer = threading.Timer(SPARE_MAX_AGE, self._expire, args=(key, kernel))
        timer.daemon = True
        timer.start()

    def _expire(self, key, kernel):
        """A spare nobody took in time (the run ended, or a Dask worker went idle) is closed."""
        with self.lock:
            if self.spares.get(key) is not kernel:
                return
            del self.spares[key]
        kernel.close()

    def close(self):
        with self.lock:
            spares, self.spares = list(self.spares.values()), {}
        for k in spares:
            if k is not None:
                k.close()


_POOL = _Pool()


def _spec_key(spec):
    h = hashlib.sha256()
    for name in sorted(spec["files"]):
        h.update(name.encode() + b"\0" + hashlib.sha256(spec["files"][name]).digest())
    h.update(json.dumps([spec["limits"], spec["execute"], spec["confine"], spec.get("warm", True),
                         spec.get("figures", True)], sort_keys=True).encode())
    return h.hexdigest()


# --------------------------------------------------------------------------- execution
def _executor(execute, output_bytes):
    """nbgrader's ``Execute`` preprocessor with a per-cell cap on output size."""
    from rnncourse.run.capped_execute import CappedExecute

    ep = CappedExecute(
        timeout=execute["timeout"], interrupt_on_timeout=execute["interrupt_on_timeout"],
        startup_timeout=execute["startup_timeout"], iopub_timeout=execute["iopub_timeout"],
        raise_on_iopub_timeout=execute["raise_on_iopub_timeout"], allow_errors=True,
        kernel_name=execute["kernel_name"])
    ep.output_limit = int(output_bytes)
    return ep


def _postprocess(nb, execute):
    """nbgrader's ``IgnorePattern`` and ``LimitOutput`` with the course's options."""
    from nbgrader.preprocessors import IgnorePattern, LimitOutput

    resources = {}
    if execute["ignore_enabled"] and execute["ignore_pattern"]:
        nb, resources = IgnorePattern(pattern=execute["ignore_pattern"]).preprocess(nb, resources)
    nb, resources = LimitOutput(max_lines=execute["max_lines"],
                                max_traceback=execute["max_traceback"]).preprocess(nb, resources)
    return nb


def _cap_outputs(nb, limits):
    """Every output kind of every cell within ``limits.output_bytes`` (:func:`.outputcap.cap_notebook`)."""
    from rnncourse.run import outputcap

    return outputcap.cap_notebook(nb, limits.output_bytes)


def _plain_files(files):
    from rnncourse.sandbox import is_plain_file_name

    out = {}
    for name, content in (files or {}).items():
        if not is_plain_file_name(name):
            raise ValueError(f"task file name {name!r}: plain file names only")
        out[name] = content if isinstance(content, bytes) else str(content).encode()
    return out


def _task_spec(task):
    from rnncourse.sandbox import Limits

    execute = dict(EXECUTE_DEFAULTS)
    execute.update(task.get("execute") or {})
    limits = Limits.from_dict(task.get("limits")).to_dict()
    files = _plain_files(task.get("files"))
    return {"files": files, "limits": limits, "execute": execute,
            "confine": bool(task.get("confine", True)), "warm": bool(task.get("warm", True)),
            "fork_server": bool(task.get("fork_server", True)),
            "figures": bool(task.get("figures", True))}


def execute_submission(task):
    """Execute one sanitized submission; return the executed notebook and the verdicts.

    Parameters
    ----------
    task : dict
        ``student`` (str), ``notebook_name`` (str), ``notebook`` (sanitized
        notebook JSON, str), ``files`` ({file name: bytes}, the released
        files put beside it; the same for every student, so kernels can be
        started before their submission is known), ``extra_files`` ({file
        name: bytes}, files the student submitted beside the notebook, added
        when the kernel is taken), ``limits`` (dict of
        :class:`rnncourse.sandbox.Limits` fields), ``execute`` (dict of
        :data:`EXECUTE_DEFAULTS` fields), ``confine`` (bool, default True:
        sandbox, judge and re-check; False runs the kernel unconfined like
        stock nbgrader), ``recheck`` (bool, default = ``confine``),
        ``prestart`` (bool, default True: start the next kernel now),
        ``warm`` (bool, default True: pre-import numpy and matplotlib),
        ``figures`` (bool, default True: draw figures as stock nbgrader;
        False builds them without drawing, much cheaper),
        ``reference_digest`` (str, optional: refuse to grade with other
        reference data than the coordinator's).

    Returns
    -------
    dict
        ``notebook`` (executed notebook JSON, str, or None), ``judge``
        ({fn: {"points", "report", "mistakes", "diagnosis"}} recorded by the
        judge for the in-kernel checks, or None when unconfined), ``recheck`` ({fn: {"points",
        "report", "diagnosis"}} or None), ``error`` (str or None: what went wrong with this
        submission), ``infra_error`` (str or None: a failure of the grading
        machinery, not of the submission; retried on the next run),
        ``timings`` ({name: seconds}), ``worker`` (host:pid).
    """
    t0 = time.monotonic()
    cpu0 = os.times()
    forked0 = _forked_cpu()
    timings = {}
    result = {"student": task.get("student"), "notebook": None, "judge": None, "recheck": None,
              "error": None, "infra_error": None, "timings": timings,
              "worker": f"{socket.gethostname()}:{os.getpid()}"}
    try:
        spec = _task_spec(task)
        extra = {k: v for k, v in _plain_files(task.get("extra_files")).items() if k not in spec["files"]}
        if spec["confine"] or task.get("reference_digest"):
            _reference()
        if task.get("reference_digest") and task["reference_digest"] != _REFERENCE.get("digest"):
            raise RuntimeError("this worker's reference data or master notebook differ from the "
                               "coordinator's: install the same version of the course on every worker")
    except Exception as exc:
        result["infra_error"] = f"{type(exc).__name__}: {exc}"
        return result

    # The re-check runs first and alone: its whole process tree is dead and its sandbox torn
    # down before the kernel gets the notebook, so nothing of the kernel's run exists while
    # it runs (docs/isolation.md). The other direction carries nothing: every final score is
    # at most the re-check's.
    if spec["confine"] and task.get("recheck", True):
        result["recheck"], error = _recheck(task, spec, extra, timings)
        if error:
            result["infra_error"] = f"the re-check failed: {error}"
            return result

    key = _spec_key(spec)
    kernel = None
    try:
        try:
            kernel, was_spare = _POOL.take(key, spec)
        except Exception as exc:
            result["infra_error"] = f"could not start a kernel: {type(exc).__name__}: {exc}"
            return result
        timings["kernel_age_at_start"] = round(kernel.age(), 4)
        for name, content in extra.items():  # the kernel has run no code yet: it sees them from cell 1
            with open(os.path.join(kernel.workdir, name), "wb") as f:
                f.write(content)
        timings["prestarted"] = 1.0 if was_spare else 0.0
        if _POOL.last_error:
            result["prestart_error"], _POOL.last_error = _POOL.last_error, None
        if task.get("prestart", True):
            threading.Thread(target=_POOL.prestart, args=(key, spec), daemon=True).start()
        result["notebook"], result["error"] = _run_notebook(task, spec, kernel, timings)
        if kernel.judge is not None:
            result["judge"] = {fn: {"points": float(r["points"]), "report": r["report"],
                                    "mistakes": [str(x) for x in r.get("mistakes", [])],
                                    "diagnosis": r.get("diagnosis")}
                               for fn, r in kernel.judge.results.items()}
            if kernel.judge.events:
                result["judge_events"] = list(kernel.judge.events)
    finally:
        if kernel is not None:
            t = time.monotonic()
            cpu = kernel.cpu_seconds()
            if cpu is not None:
                timings["kernel_cpu"] = round(cpu, 3)
            kernel.close()
            timings["cleanup"] = round(time.monotonic() - t, 4)
        timings["total"] = round(time.monotonic() - t0, 4)
        cpu1 = os.times()
        timings["worker_cpu"] = round(cpu1.user + cpu1.system - cpu0.user - cpu0.system, 3)
        timings["recheck_cpu"] = round(cpu1.children_user + cpu1.children_system
                                       - cpu0.children_user - cpu0.children_system, 3)
        forked1 = _forked_cpu()
        if forked0 is not None and forked1 is not None:
            # Everything this worker's fork server ran meanwhile: this kernel's and re-check's
            # CPU (also the part spent after the wrapper exited), and the next kernel's start.
            timings["forked_cpu"] = round(forked1 - forked0, 3)
    return result


def _recheck(task, spec, extra, timings):
    """``(verdicts, None)`` of the re-check of ``task``, or ``(None, what failed)`` in the machinery."""
    from rnncourse.verdicts import recheck

    t = time.monotonic()
    value, error = None, None
    try:
        data, ref = _reference()
        value = recheck.recheck(task["notebook"], {**extra, **spec["files"]}, spec["limits"],
                                data=data, ref=ref)
    except Exception as exc:  # the machinery (the submission's doings are its outcome)
        error = f"{type(exc).__name__}: {exc}"
    timings["recheck"] = round(time.monotonic() - t, 4)
    return value, error


def _run_notebook(task, spec, kernel, timings):
    """Execute the notebook in ``kernel``; ``(executed JSON or None, error or None)``."""
    import nbformat
    from nbclient.exceptions import DeadKernelError

    from rnncourse.sandbox import Limits

    execute = spec["execute"]
    limits = Limits.from_dict(spec["limits"])
    try:
        nb = nbformat.v4.reads(task["notebook"])
    except (ValueError, TypeError, RecursionError) as exc:
        return None, f"the notebook could not be read: {exc}"
    ep = _executor(execute, limits.output_bytes)
    state = {"cell": None, "ready": None}
    ep.on_notebook_start = lambda notebook: state.__setitem__("ready", time.monotonic())
    ep.on_cell_start = lambda cell, cell_index: state.__setitem__("cell", cell_index)
    budget = max(1.0, limits.total_timeout - kernel.age())
    expired = threading.Event()

    def expire():
        expired.set()
        kernel.kill()

    watchdog = threading.Timer(budget, expire)
    watchdog.daemon = True
    t = time.monotonic()
    error = None
    watchdog.start()
    try:
        ep.preprocess(nb, {"metadata": {"path": kernel.workdir}}, km=kernel.km)
    except DeadKernelError:
        error = "the kernel died"
    except Exception as exc:  # a hostile or broken notebook must not stop the worker
        error = f"execution stopped: {type(exc).__name__}: {exc}"
        if not str(exc):
            error += traceback.format_exc(limit=2)
    finally:
        watchdog.cancel()
        try:
            if ep.kc is not None:
                ep.kc.stop_channels()
        except Exception:
            pass
    end = time.monotonic()
    if state["ready"] is not None:
        timings["kernel_wait"] = round(state["ready"] - t, 4)
        timings["cells"] = round(end - state["ready"], 4)
    timings["execute"] = round(end - t, 4)
    if expired.is_set():
        error = (f"stopped after the time limit of {limits.total_timeout:g} s for the whole "
                 "notebook (cells not reached are scored by the re-check alone)")
    elif error is not None and state["cell"] is not None:
        error += f" while running cell {state['cell']}" + _cell_label(nb, state["cell"])
        if error.startswith("the kernel died"):
            error += (" (the code exited the kernel, crashed it or ran out of memory); "
                      "cells not reached are scored by the re-check alone")
    nb = _cap_outputs(_postprocess(nb, execute), limits)
    return nbformat.writes(nb), error


def _cell_label(nb, index):
    try:
        gid = nb.cells[index].metadata.get("nbgrader", {}).get("grade_id")
    except (IndexError, AttributeError):
        return ""
    return f" ({gid})" if gid else ""


def warm_up(task):
    """Prepare this process for tasks like ``task`` (no notebook needed): load the reference, start a kernel.

    Called once per worker process when a run starts, so the first submission
    does not wait for imports and a cold kernel.
    """
    spec = _task_spec(task)
    if spec["confine"]:
        if spec.get("fork_server", True):
            from rnncourse.sandbox import start_fork_server

            start_fork_server()
        _reference()
    if task.get("prestart", True):
        _POOL.prestart(_spec_key(spec), spec)
    # What the first submission would otherwise import while its kernel waits.
    import nbclient  # noqa: F401
    import nbformat  # noqa: F401
    from nbgrader.preprocessors import Execute  # noqa: F401

    from rnncourse.verdicts import judge, recheck  # noqa: F401 (imported once per worker)
    return f"{socket.gethostname()}:{os.getpid()}"


def shutdown():
    """Kill this process's spare kernels and its fork server (they are also killed at exit)."""
    from rnncourse.sandbox import stop_fork_server

    _POOL.close()
    stop_fork_server()
