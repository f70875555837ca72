"""The wrapper that confines one command: ``python -I -S launch.py CONFIG_FILE -- ARGV...``.

Or ``python -I -S launch.py --via SERVER CONFIG_FILE -- ARGV...``: the same
confinement, set up by a fork server (:mod:`rnncourse.sandbox.forkserver`) whose
process has the program's modules imported already.

:meth:`rnncourse.sandbox.Sandbox.wrap` builds that command (``launch.py``
calls :func:`main` here; ``python -I -S confine.py ...`` works too); the
design is described in :mod:`rnncourse.sandbox`. This runs before anything
is confined, so it imports only a few standard modules, and the launcher
(``--via``) none of the slower ones (``ctypes``, ``json``, ``socket``,
``signal``): its start-up time is paid for every confined process.
"""

import _signal as signal  # the C module: ``signal`` would import enum (6 ms per launch)
import os
import sys

INSIDE_UID = 1000
"""The uid the payload has inside a rootless sandbox's user namespace."""

_ENV_KEEP = ("LANG", "LANGUAGE", "TZ", "MPLBACKEND", "NBGRADER_EXECUTION",
             "PYTHONUNBUFFERED", "PYTHONIOENCODING",
             "PYTHONHASHSEED", "PYDEVD_DISABLE_FILE_VALIDATION", "JPY_SESSION_NAME",
             "COLUMNS", "LINES", "TERM", "CLICOLOR", "FORCE_COLOR", "NO_COLOR")
_ENV_KEEP_PREFIX = ("LC_",)

_ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "timezone", "nsswitch.conf",
              "host.conf", "hosts", "fonts", "mime.types", "matplotlibrc", "locale.alias")
_SYSTEM_DIRS = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32")


# ---------------------------------------------------------------- system calls
CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}

_libc = None


def _c():
    global _libc
    if _libc is None:
        import ctypes

        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _check(ret, what):
    import ctypes

    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(src, dst, fstype, flags, data=None):
    import ctypes

    def enc(s):
        return None if s is None else os.fsencode(s)

    _check(_c().mount(enc(src), enc(dst), enc(fstype), ctypes.c_ulong(flags), enc(data)),
           f"mount {src} on {dst}")


def _unshare(flags):
    import ctypes

    _check(_c().unshare(ctypes.c_int(flags)), "unshare")


def _prctl(option, arg):
    import ctypes

    _check(_c().prctl(ctypes.c_int(option), ctypes.c_ulong(arg), ctypes.c_ulong(0),
                      ctypes.c_ulong(0), ctypes.c_ulong(0)), "prctl")


def _pivot_root(new, old):
    import ctypes

    machine = os.uname().machine
    nr = _SYS_PIVOT_ROOT.get(machine)
    if nr is None:
        raise OSError(f"pivot_root: unsupported architecture {machine}")
    _check(_c().syscall(ctypes.c_long(nr), os.fsencode(new), os.fsencode(old)), "pivot_root")


def _flags_of(path):
    """Mount flags that must be kept when remounting ``path`` (locked in a user namespace)."""
    f = os.statvfs(path).f_flag
    return (f & (os.ST_NOSUID | os.ST_NODEV | os.ST_NOEXEC | os.ST_NOATIME | os.ST_NODIRATIME
                 | os.ST_RELATIME))


# ---------------------------------------------------------------- inside: init and payload
def _mkpath(path, is_dir):
    if is_dir:
        os.makedirs(path, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if not os.path.lexists(path):
            with open(path, "w"):
                pass


def _mount_points():
    """The mount points of this mount namespace, as paths."""
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4].encode().decode("unicode_escape") for line in f]


def _bind(src, dst, rw, mounts):
    """Bind ``src`` (and the mounts under it) at ``dst``; read-only unless ``rw``.

    ``mounts`` lists the namespace's mount points (:func:`_mount_points`,
    kept up to date by the caller and here), so the mounts that the recursive
    bind brings along are known without reading ``/proc/self/mountinfo`` again.
    """
    prefix = os.path.realpath(src).rstrip("/") + "/"  # mount follows symlinks
    targets = [dst] + [dst.rstrip("/") + "/" + mp[len(prefix):] for mp in mounts if mp.startswith(prefix)]
    _mkpath(dst, os.path.isdir(src))
    _mount(src, dst, None, MS_BIND | MS_REC)
    mounts.extend(targets)
    if not rw:
        # Every mount under dst (the bind is recursive) becomes read-only.
        for t in targets:
            try:
                _mount(None, t, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV
                       | _flags_of(t))
            except OSError:
                if t == dst:
                    raise


def _links(root, links, binds):
    """Recreate the host's links ``[(link, target), ...]`` in the new root, where nothing is yet.

    Each link's directory is a resolved path (:func:`rnncourse.sandbox.hostlinks.symlinks_on`).
    A link is made only on the root's own tmpfs (or its private ``/tmp``): never
    in a bound host directory (``binds``, the system directories, ``/etc``,
    ``/dev``), never through another link, and never over what is there.
    """
    real_root = os.path.realpath(root)
    host = [dst for _, dst, _ in binds] + ["/" + d for d in _SYSTEM_DIRS] + ["/etc", "/dev", "/proc"]
    for link, target in links:
        parent = os.path.dirname(link).rstrip("/")
        if any(link == h or link.startswith(h.rstrip("/") + "/") for h in host):
            continue
        where = root + link
        if os.path.lexists(where) or os.path.realpath(root + parent) != real_root + parent:
            continue
        umask = os.umask(0o022)  # directories the payload's uid cannot write to
        try:
            os.makedirs(root + parent, exist_ok=True)
        finally:
            os.umask(umask)
        os.symlink(target, where)


def _setup_root(cfg):
    """Build the new root in ``cfg['root']`` and pivot into it (runs as the namespace's init)."""
    import ctypes

    root = cfg["root"]
    seeds = {}
    for inside, host in cfg.get("seed", {}).items():
        try:
            with open(host, "rb") as f:
                seeds[inside] = f.read()
        except OSError:
            pass
    _unshare(CLONE_NEWNS)
    _mount("none", "/", None, MS_REC | MS_PRIVATE)
    mounts = _mount_points()  # kept up to date below
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=16m")
    mounts.append(root)
    for name in _SYSTEM_DIRS:
        host = "/" + name
        if os.path.islink(host):
            os.symlink(os.readlink(host), root + host)
        elif os.path.isdir(host):
            _bind(host, root + host, False, mounts)
    os.makedirs(root + "/etc")
    for name in _ETC_FILES:
        if os.path.exists("/etc/" + name):
            _bind("/etc/" + name, root + "/etc/" + name, False, mounts)
    dev = root + "/dev"
    os.makedirs(dev, exist_ok=True)
    for name in ("null", "zero", "full", "random", "urandom"):
        _bind("/dev/" + name, f"{dev}/{name}", True, mounts)
    for i, name in enumerate(("stdin", "stdout", "stderr")):
        os.symlink(f"/proc/self/fd/{i}", f"{dev}/{name}")
    os.symlink("/proc/self/fd", dev + "/fd")
    os.makedirs(dev + "/shm")
    tmpfs_opts = f"mode=1777,size={int(cfg['tmp_size'])}"
    _mount("tmpfs", dev + "/shm", "tmpfs", MS_NOSUID | MS_NODEV, tmpfs_opts)
    os.makedirs(root + "/tmp", exist_ok=True)
    _mount("tmpfs", root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, tmpfs_opts)
    mounts += [dev + "/shm", root + "/tmp"]
    for src, dst, rw in cfg["binds"]:  # after /tmp: a workdir may live under /tmp
        _bind(src, root + dst, rw, mounts)
    _links(root, cfg.get("links", ()), cfg["binds"])
    os.makedirs(root + "/proc")
    _mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    uid, gid = cfg["uid"], cfg["gid"]
    for inside, data in seeds.items():
        path = root + inside
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        if cfg["root_mode"]:
            os.chown(os.path.dirname(path), uid, gid)
            os.chown(path, uid, gid)
    os.chdir(root)
    os.makedirs(".oldroot")
    _pivot_root(".", ".oldroot")
    os.chdir("/")
    _check(_c().umount2(b"/.oldroot", ctypes.c_int(MNT_DETACH)), "umount old root")
    os.rmdir("/.oldroot")
    _mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    try:
        _c().sethostname(b"sandbox", ctypes.c_size_t(7))
    except OSError:
        pass


def _payload(cfg, argv, env, run=None):
    """Drop everything and exec ``argv`` (the forked child of the init).

    With ``run`` (a fork server's child, :mod:`rnncourse.sandbox.forkserver`), call
    ``run(argv, env)`` in this process instead of exec: the program's modules
    are already imported, the confinement is the same.
    """
    import resource

    os.closerange(3, 1 << 16)
    lim = cfg["limits"]
    for res, value in ((resource.RLIMIT_AS, lim["memory"]), (resource.RLIMIT_FSIZE, lim["file_size"]),
                       (resource.RLIMIT_NOFILE, lim["open_files"]), (resource.RLIMIT_CORE, 0),
                       (resource.RLIMIT_CPU, int(lim["total_timeout"]) + 5)):
        resource.setrlimit(res, (int(value), int(value)))
    if cfg["root_mode"]:
        resource.setrlimit(resource.RLIMIT_NPROC, (int(lim["processes"]),) * 2)
        os.setgroups([])
        os.setresgid(cfg["gid"], cfg["gid"], cfg["gid"])
        os.setresuid(cfg["uid"], cfg["uid"], cfg["uid"])
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    os.umask(0o077)
    os.chdir(cfg["cwd"])
    if run is not None:
        run(argv, env)
        os._exit(0)
    prog = argv[0]
    if "/" not in prog:
        prog = _which(prog, env.get("PATH", "/usr/bin:/bin"))
    os.execve(prog, argv, env)


def _init(cfg, argv, env, alive_fd, run=None):
    """PID 1 of the new namespace: set up the root, fork the payload, reap, exit with it."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    # Go on only when the wrapper says so (it has recorded our pid and put us in the
    # cgroup); EOF means it died, possibly before PDEATHSIG was set.
    if os.read(alive_fd, 1) != b"g":
        os._exit(137)
    os.close(alive_fd)
    _setup_root(cfg)
    # Interrupts reach the payload directly (same process group); the init ignores them.
    for s in (signal.SIGINT, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2, signal.SIGPIPE):
        signal.signal(s, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *a: os._exit(143))
    signal.signal(signal.SIGHUP, lambda *a: os._exit(129))
    pid = os.fork()
    if pid == 0:
        try:
            for s in (signal.SIGINT, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2, signal.SIGPIPE,
                      signal.SIGTERM, signal.SIGHUP):
                signal.signal(s, signal.SIG_DFL)
            _payload(cfg, argv, env, run)
        except BaseException as exc:  # report why the payload could not start
            os.write(2, f"sandbox: cannot start {argv[0]!r}: {exc}\n".encode())
        os._exit(127)
    if run is not None:
        # Forked by a fork server, the payload is not in the launcher's process group:
        # interrupts come to the init, which passes them on.
        signal.signal(signal.SIGINT, lambda *a: os.kill(pid, signal.SIGINT))
    while True:
        try:
            done, status = os.wait()
        except ChildProcessError:
            os._exit(0)
        except InterruptedError:
            continue
        if done == pid:
            os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status)
                     else 128 + os.WTERMSIG(status))


def _give_workdir(cfg):
    """Make everything in the workdir the sandbox uid's (files the grader just wrote too).

    ``os.fwalk`` works on directory descriptors and never follows a symlink, so
    code that ran in this workdir before cannot redirect the walk elsewhere.
    """
    uid, gid = cfg["uid"], cfg["gid"]
    for _, dirnames, filenames, dirfd in os.fwalk(cfg["workdir"], follow_symlinks=False):
        os.chown(dirfd, uid, gid)
        for name in dirnames + filenames:
            try:
                os.chown(name, uid, gid, dir_fd=dirfd, follow_symlinks=False)
            except FileNotFoundError:
                pass


def _wrapper_main(cfg, argv, run=None, conn=None, environ=None):
    """The command :meth:`Sandbox.wrap` returns: namespaces, fork the init, wait, time out.

    ``run``, ``conn`` and ``environ`` are given in a fork server's child
    (:mod:`rnncourse.sandbox.forkserver`): the payload calls ``run`` instead of exec,
    ``conn`` is the launcher's connection (a byte ``i`` asks for an
    interrupt, its end kills everything; the exit status is sent back on it),
    and ``environ`` is the launcher's environment.
    """
    env = scrub(os.environ if environ is None else environ, cfg["env_extra"])
    flags = CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
    if not cfg["root_mode"]:
        uid, gid = os.getuid(), os.getgid()
        _unshare(flags | CLONE_NEWUSER)
        with open("/proc/self/setgroups", "w") as f:
            f.write("deny")
        with open("/proc/self/uid_map", "w") as f:
            f.write(f"{INSIDE_UID} {uid} 1")
        with open("/proc/self/gid_map", "w") as f:
            f.write(f"{INSIDE_UID} {gid} 1")
    else:
        _give_workdir(cfg)
        _unshare(flags)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(w)
        if conn is not None:
            conn.close()
        try:
            _init(cfg, argv, env, r, run)
        except BaseException as exc:
            os.write(2, f"sandbox: cannot set up the confinement: {exc}\n".encode())
        os._exit(126)
    os.close(r)
    with open(os.path.join(cfg["control"], "pids"), "a") as f:
        f.write(f"{os.getpid()} {pid}\n")
    for key, what in (("cgroup", "memory"), ("cpu_cgroup", "CPU")):
        if cfg.get(key):
            try:
                with open(os.path.join(cfg[key], "cgroup.procs"), "w") as f:
                    f.write(str(pid))
            except OSError as exc:
                os.write(2, f"sandbox: cannot use the {what} cgroup: {exc}\n".encode())
                os.kill(pid, signal.SIGKILL)
                sys.exit(126)
    os.write(w, b"g")

    def kill(signum, frame):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os._exit(128 + signum)

    for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGALRM):
        signal.signal(s, kill)
    for s in (signal.SIGINT, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(s, signal.SIG_IGN)
    signal.alarm(max(1, int(cfg["limits"]["total_timeout"])))
    # Wait for the init; kill it if whoever started this wrapper goes away.
    import select

    parent = os.getppid()
    pidfd = os.pidfd_open(pid)
    while True:
        ready, _, _ = select.select([pidfd] + ([conn] if conn is not None else []), [], [], 1.0)
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if conn is not None and conn in ready:
            try:
                data = conn.recv(64)
            except OSError:
                data = b""
            if not data:  # the launcher is gone: so is everything it started
                kill(signal.SIGHUP, None)
            if b"i" in data:
                try:
                    os.kill(pid, signal.SIGINT)
                except ProcessLookupError:
                    pass
        elif conn is None and os.getppid() != parent:
            kill(signal.SIGHUP, None)
    code = os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
    if conn is not None:
        try:
            conn.send(f"exit {code}".encode())
        except OSError:
            pass
        os._exit(code)
    sys.exit(code)


def _launcher_main(server, config, argv):
    """``confine.py --via SERVER CONFIG -- ARGV``: have a fork server run ``argv`` confined.

    Stands for the confined process towards whoever started it (a kernel
    manager): it lives as long as the process does, exits with its status,
    passes interrupts on, and its death (even by SIGKILL) kills the process.
    """
    # The C module: ``socket`` would import selectors and enum, 10 ms per launch.
    import _socket

    conn = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
    fds = b"".join(fd.to_bytes(4, sys.byteorder) for fd in (0, 1, 2))  # three C ints
    try:
        conn.connect(server)
        conn.sendmsg([encode_request(config, argv, scrub(os.environ, {}))],
                     [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fds)])
    except OSError as exc:
        sys.exit(f"sandbox: the fork server at {server} is not available: {exc}")

    def interrupt(signum, frame):
        try:
            conn.send(b"i")
        except OSError:
            pass

    signal.signal(signal.SIGINT, interrupt)
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, lambda signum, frame: os._exit(128 + signum))
    parent = os.getppid()
    conn.settimeout(1.0)
    while True:
        try:
            data = conn.recv(64)
        except TimeoutError:
            if os.getppid() != parent:
                os._exit(129)
            continue
        except InterruptedError:
            continue
        except OSError:
            data = b""
        if not data:
            os._exit(125)
        if data.startswith(b"exit "):
            os._exit(int(data[5:]) & 0xFF)


def encode_request(config, argv, environ):
    """A launcher's request to the fork server: NUL-separated strings (no parser needed).

    ``config`` (the configuration file's path), the number of arguments,
    the arguments, then ``NAME=value`` for each environment variable; none of
    them can hold a NUL (the kernel's ``execve`` could not pass it on either).
    """
    fields = [config, str(len(argv)), *argv, *(f"{k}={v}" for k, v in environ.items())]
    if any("\0" in f for f in fields) or any("=" in k or not k for k in environ):
        raise ValueError("arguments and environment variables cannot hold a NUL; names cannot hold '='")
    return "\0".join(fields).encode("utf-8", "surrogateescape")


def decode_request(data):
    """``(config, argv, environ)`` from :func:`encode_request`'s bytes; ValueError when malformed."""
    fields = data.decode("utf-8", "surrogateescape").split("\0")
    if len(fields) < 2 or not fields[1].isdigit() or len(fields) < 2 + int(fields[1]):
        raise ValueError("malformed request")
    n = int(fields[1])
    environ = {}
    for item in fields[2 + n:]:
        name, eq, value = item.partition("=")
        if not eq or not name:
            raise ValueError("malformed environment variable in the request")
        environ[name] = value
    return fields[0], fields[2:2 + n], environ


def scrub(base, extra):
    """The environment of confined code: an allow-list of ``base``, plus ``extra``."""
    env = {k: v for k, v in base.items() if k in _ENV_KEEP or k.startswith(_ENV_KEEP_PREFIX)}
    env.update(extra)
    return env


def _which(prog, path):
    for d in path.split(":"):
        cand = os.path.join(d, prog)
        if os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    return prog


def main(args):
    """The command line: ``confine.py CONFIG -- ARGV`` or ``confine.py --via SERVER CONFIG -- ARGV``."""
    if args and args[0] == "--via":
        if len(args) < 5 or args[3] != "--":
            sys.exit("usage: confine.py --via SERVER CONFIG_FILE -- COMMAND...")
        _launcher_main(args[1], args[2], args[4:])
    if len(args) < 3 or args[1] != "--":
        sys.exit("usage: confine.py CONFIG_FILE -- COMMAND...")
    import json

    with open(args[0], encoding="utf-8") as f:
        cfg = json.load(f)
    _wrapper_main(cfg, args[2:])


if __name__ == "__main__":
    main(sys.argv[1:])
