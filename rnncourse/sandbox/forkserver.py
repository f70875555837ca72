"""A fork server: confined kernels without paying for their imports each time.

Starting a kernel costs far more CPU than running a submission: the Python
interpreter, IPython, ipykernel, zmq, numpy and matplotlib are imported anew
for every submission. A fork server imports all of that once, in a process
that has seen no submission and holds no reference data, and forks a child
per confined program. The child sets up exactly the confinement that
:mod:`rnncourse.sandbox.confine` sets up for an exec'ed program (namespaces, new root,
rlimits, its own uid, cgroup), then runs the program (``python -m MODULE
ARGS...``: a kernel, the re-check driver; or ``python -c CODE``) in-process
instead of exec'ing it.
A child is used for one program and then exits; nothing ever returns into
the server.

The server is private to one worker process (:class:`ForkServer`); a
launcher (``launch.py --via SOCKET CONFIG -- ARGV``, built by
:meth:`rnncourse.sandbox.Sandbox.wrap`) stands for the confined program
towards whoever started it (a kernel manager, the re-check): it passes on its
standard streams and interrupts, exits with the program's status, and its
death kills the program.

Run as a script: ``python forkserver.py SOCKET`` (prints ``ready`` when it
listens; exits when its parent goes away).
"""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading

PRELOAD = (
    "numpy", "matplotlib", "matplotlib.pyplot", "matplotlib.figure", "matplotlib_inline.backend_inline",
    "IPython", "ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "ipykernel.debugger",
    "ipykernel.comm", "ipykernel.eventloops", "ipykernel.inprocess.ipkernel", "ipykernel_launcher",
    "jupyter_client.session", "zmq", "zmq.eventloop.zmqstream", "tornado.ioloop", "psutil",
    "pygments.lexers.python", "pygments.formatters.terminal256",
    # imported later by a kernel: numpy.random (children are reseeded), IPython's tracebacks
    # (stack_data & co., on a cell's first error), history, debugger and magics
    "numpy.random", "stack_data", "executing", "pure_eval", "asttokens", "sqlite3",
    "IPython.core.oinspect", "IPython.core.completerlib", "IPython.core.debugger",
    "IPython.core.logger", "IPython.core.magics.pylab", "IPython.extensions.storemagic",
    "IPython.utils.wildcard", "pdb", "faulthandler", "secrets", "runpy", "encodings.unicode_escape",
    "tornado.platform.asyncio",
)
"""What a kernel of this course imports: the server imports it once (ipykernel_launcher is
guarded by ``__name__ == "__main__"``, so importing it starts nothing)."""


# ---------------------------------------------------------------- the server process
def _serve(sock_path, confine):
    import runpy

    def reap(signum, frame):
        # Reaped (not ignored), so that this process's CPU counters include its children's.
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return

    signal.signal(signal.SIGCHLD, reap)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    srv.bind(sock_path)
    os.chmod(sock_path, 0o600)
    srv.listen(16)
    srv.settimeout(1.0)
    parent = os.getppid()
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    while True:
        try:
            conn, _ = srv.accept()
        except TimeoutError:
            if os.getppid() != parent:
                os._exit(0)
            continue
        try:
            msg, fds, _, _ = socket.recv_fds(conn, 1 << 20, 3)
            config, argv, environ = confine.decode_request(msg)
            with open(config, encoding="utf-8") as f:
                cfg = json.load(f)
            if len(fds) != 3 or len(argv) < 3 or argv[1] not in ("-m", "-c"):
                raise ValueError("a request needs three standard streams and "
                                 "`python -m MODULE ...` or `python -c CODE ...`")
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            try:
                conn.send(f"error {exc}".encode()[:4000])
            except OSError:
                pass
            conn.close()
            continue
        if threading.active_count() != 1:  # forking a threaded process is not safe
            os._exit(70)
        pid = os.fork()
        if pid == 0:
            code = 126
            try:
                srv.close()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                for i, fd in enumerate(fds):
                    os.dup2(fd, i)
                    os.close(fd)
                code = 0
                confine._wrapper_main(cfg, argv, run=lambda a, e, c=cfg: _run_module(a, e, c, runpy),
                                      conn=conn, environ=environ)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException as exc:  # noqa: BLE001 (the child must never return into the server)
                try:
                    os.write(2, f"sandbox: the fork server's child failed: {exc!r}\n".encode())
                except OSError:
                    pass
                code = 126
            os._exit(code)
        conn.close()
        for fd in fds:
            os.close(fd)


def _run_module(argv, env, cfg, runpy):
    """In the confined payload: become ``python -m|-c argv[2] argv[3:]`` with environment ``env``."""
    import importlib
    import random

    os.environ.clear()
    os.environ.update(env)
    sys.argv = (["-c"] if argv[1] == "-c" else [argv[2]]) + argv[3:]
    here = os.path.dirname(os.path.abspath(__file__))
    extra = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    first = "" if argv[1] == "-c" else cfg["cwd"]
    sys.path[:] = [first] + extra + [p for p in sys.path if p and p != here]
    sys.path_importer_cache.clear()
    importlib.invalidate_caches()
    sys.dont_write_bytecode = bool(env.get("PYTHONDONTWRITEBYTECODE"))
    # Every child would otherwise share the server's random state.
    random.seed()
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()
    for name in [m for m in sys.modules if m == "rnncourse" or m.startswith("rnncourse.")]:
        del sys.modules[name]  # the client's copy (on PYTHONPATH) is the one to use
    try:
        if argv[1] == "-c":
            import types

            main = types.ModuleType("__main__")  # a fresh one: the server's stays with its code
            main.__builtins__ = __builtins__
            sys.modules["__main__"] = main
            exec(compile(argv[2], "<string>", "exec"), main.__dict__)
        else:
            runpy.run_module(argv[2], run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    os._exit(code)


def _main():
    sock_path = sys.argv[1]
    try:
        confine = _prepare()
    except BaseException as exc:  # noqa: BLE001
        refused = f"refused: {type(exc).__name__}: {exc}"
    else:
        refused = None if threading.active_count() == 1 else "refused: threads after the imports"
    if refused:  # forking would not be safe, or the imports failed: nobody will be served
        try:
            os.rmdir(os.path.dirname(sock_path))  # workers sharing this server stop waiting for it
        except OSError:
            pass
        sys.stdout.write(refused[:500] + "\n")
        sys.stdout.flush()
        return
    try:
        _serve(sock_path, confine)
    finally:  # (only empty before the server listens)
        try:
            os.rmdir(os.path.dirname(sock_path))
        except OSError:
            pass


def _prepare():
    """Import what the programs need, once; the confinement module."""
    here = os.path.dirname(os.path.abspath(__file__))
    if sys.path and os.path.abspath(sys.path[0] or ".") == here:
        sys.path.pop(0)  # our siblings are loaded by path below, never as top-level modules
    import importlib.util

    spec = importlib.util.spec_from_file_location("_rnncourse_confine", os.path.join(here, "confine.py"))
    confine = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(confine)
    confine._c()  # ctypes and libc, loaded here rather than in every child
    import importlib

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 (a missing optional module only costs speed)
            pass
    import gc

    # What was imported is shared with every child: frozen, the collector never walks it,
    # so a child does not copy those pages just to look at them (a full collection in a
    # fork costs about 60 ms of copying otherwise).
    gc.collect()
    gc.freeze()
    return confine


# ---------------------------------------------------------------- the worker's side
class ForkServer:
    """One fork server process, private to the process that starts it.

    Parameters
    ----------
    env : dict
        The server's environment (the scrubbed environment of confined code:
        thread counts of 1, the matplotlib cache, no secrets).

    Attributes
    ----------
    socket_path : str
        Where launchers connect (in a directory only this user can enter).
    """

    def __init__(self, env):
        self._dir = tempfile.mkdtemp(prefix="rnncourse-forkserver-")
        os.chmod(self._dir, 0o700)
        self.socket_path = os.path.join(self._dir, "forkserver.sock")
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "forkserver.py")
        self.proc = subprocess.Popen([sys.executable, script, self.socket_path], env=env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, cwd=self._dir, start_new_session=True)
        self._ready = None
        self._lock = threading.Lock()

    def wait_ready(self):
        """Block until the server listens (it imports for a second or so); whether it does."""
        with self._lock:
            if self._ready is None:
                line = self.proc.stdout.readline()
                self._ready = line.strip() == b"ready"
                if not self._ready:
                    self.close()
        return self._ready

    def alive(self):
        return self.wait_ready() and self.proc.poll() is None

    def pid(self):
        return self.proc.pid

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        try:
            os.unlink(self.socket_path)
        except FileNotFoundError:
            pass
        try:
            os.rmdir(self._dir)
        except OSError:
            pass


class SharedForkServer:
    """Another process's fork server (the coordinator's, shared by its local workers)."""

    def __init__(self, socket_path, wait=30.0):
        self.socket_path = socket_path
        self._wait = wait

    def alive(self):
        import time

        deadline = time.monotonic() + self._wait
        while not os.path.exists(self.socket_path):  # still importing
            if time.monotonic() > deadline or not os.path.isdir(os.path.dirname(self.socket_path)):
                return False
            time.sleep(0.05)
        self._wait = 0.0
        return True

    def pid(self):
        return None

    def close(self):
        pass


if __name__ == "__main__":
    _main()
