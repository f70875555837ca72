"""Set up, start and tear down the course's JupyterHub on one machine (run as root).

``python3 deploy/jupyterhub/hubkit.py build`` builds the environments (cached),
``python3 deploy/jupyterhub/hubkit.py demo`` (``make hub``) creates demo accounts,
starts the hub on 127.0.0.1, prints how to log in, and on Ctrl-C stops everything
and removes the accounts. ``tests/test_hub.py`` drives the same functions.

What a deployment is made of (standard library only, so any Python runs it):

- two environments, built from an interpreter every user can run (Debian's
  ``/usr/bin/python3``, not one inside root's home) and cached by the hash of
  their pins under ``/opt/rnncourse-hub/envs``: the *student* environment
  (``requirements-hub.txt``: JupyterHub, JupyterLab, nbgrader, numpy,
  matplotlib), which also runs the hub, readable by all; the *instructor*
  environment (the course's pins, with the hub's pins first where both name a
  package), readable only by the group of instructors;
- the proxy, configurable-http-proxy from npm (``package-lock.json``, ``npm ci``);
- a deployment folder: the exchange (root, mode 1777: anyone may create a
  course's folder, nobody may rename or delete another's), the students' and
  instructors' Jupyter configuration, and the hub's private state (0700);
- local users with private homes (0700); the instructors' course directory
  (a copy of the course) in the first instructor's home.
"""

import argparse
import dataclasses
import hashlib
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
COURSE_ID = "rnn-lstm"
ASSIGNMENT = "rnn_lstm"
SYSTEM_PYTHON = os.environ.get("RNNCOURSE_HUB_PYTHON", "/usr/bin/python3")
ENV_CACHE = Path(os.environ.get("RNNCOURSE_HUB_ENVS", "/opt/rnncourse-hub/envs"))
INSTRUCTORS_GROUP = "rnnlstm-staff"
PROXY = HERE / "node_modules" / ".bin" / "configurable-http-proxy"
LAB_OVERRIDES = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false",
                                                                 "checkForUpdates": False}}
MARK = "rnncourse hub account"  # GECOS of the accounts this tool creates (and may remove)
# What the course directory holds (copied from the checkout into the instructor's home).
COURSE_FILES = ["Makefile", "nbgrader_config.py", "pyproject.toml", "requirements.txt",
                "README.md", "source", "release", "rnncourse"]


@dataclasses.dataclass
class Deployment:
    """Everything a running hub is made of; written as JSON for jupyterhub_config.py.

    Parameters
    ----------
    base : folder of the deployment (exchange, configuration, state).
    port, hub_port, proxy_api_port : TCP ports on 127.0.0.1.
    instructors, students : Linux user names.
    password : the shared password of every account (8 characters or more).
    """

    base: str
    port: int
    hub_port: int
    proxy_api_port: int
    instructors: list
    students: list
    password: str
    student_env: str
    instructor_env: str
    course_id: str = COURSE_ID
    proxy: str = str(PROXY)

    @property
    def state_dir(self):
        return str(Path(self.base) / "state")

    @property
    def exchange(self):
        return str(Path(self.base) / "exchange")

    @property
    def course_dir(self):
        return str(Path(pwd.getpwnam(self.instructors[0]).pw_dir) / COURSE_ID)

    @property
    def settings_file(self):
        return Path(self.state_dir) / "hub.json"

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def to_dict(self):
        data = dataclasses.asdict(self)
        data.update(state_dir=self.state_dir, exchange=self.exchange, course_dir=self.course_dir,
                    student_config_dir=str(Path(self.base) / "config" / "student"),
                    instructor_config_dir=str(Path(self.base) / "config" / "instructor"))
        return data

    @classmethod
    def from_dict(cls, data):
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def _run(cmd, **kwargs):
    subprocess.run(cmd, check=True, **kwargs)


def _pins(path):
    """``{lower-case name: line}`` of a pin file (comments and blank lines dropped)."""
    out = {}
    for line in Path(path).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            out[line.split("==")[0].split("[")[0].strip().lower().replace("_", "-")] = line
    return out


def _build_env(kind, pins):
    """A venv of ``pins`` (list of lines) from SYSTEM_PYTHON, cached by their hash."""
    version = subprocess.run([SYSTEM_PYTHON, "-c", "import sys; print(sys.version)"],
                             check=True, capture_output=True, text=True).stdout
    digest = hashlib.sha256("\n".join([version, *sorted(pins)]).encode()).hexdigest()[:12]
    env = ENV_CACHE / f"{kind}-{digest}"
    stamp = env / ".rnncourse-hub-built"
    if stamp.exists():
        return env
    ENV_CACHE.mkdir(parents=True, exist_ok=True)
    os.chmod(ENV_CACHE.parent, 0o755)
    os.chmod(ENV_CACHE, 0o755)
    shutil.rmtree(env, ignore_errors=True)  # a build that was cut off
    print(f"building the {kind} environment in {env} (once; cached) ...", flush=True)
    _run([SYSTEM_PYTHON, "-m", "venv", str(env)])
    pinfile = env / "pins.txt"
    pinfile.write_text("\n".join(sorted(pins)) + "\n")
    _run([str(env / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "-r", str(pinfile)])
    _run([str(env / "bin" / "python"), "-m", "pip", "check"], stdout=subprocess.DEVNULL)
    stamp.touch()
    return env


def build_environments():
    """Build (or find in the cache) the student and instructor environments and the proxy.

    Returns
    -------
    (student_env, instructor_env) : Paths.
    """
    hub = _pins(HERE / "requirements-hub.txt")
    course = _pins(REPO / "requirements.txt")
    student = _build_env("student", list(hub.values()))
    # The course's pins with the hub's in their place where both name a package: the
    # hub's are frozen on the system interpreter, so they fit it.
    instructor = _build_env("instructor", list({**course, **hub}.values()))
    # The proxy from the npm lock file, installed again only when the lock file changed.
    lock = hashlib.sha256((HERE / "package-lock.json").read_bytes()).hexdigest()
    stamp = HERE / "node_modules" / ".rnncourse-lock-sha256"
    if not (PROXY.exists() and stamp.exists() and stamp.read_text() == lock):
        _run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HERE)
        stamp.write_text(lock)
    return student, instructor


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def create_user(name, home_mode=0o700):
    """A local user with a private home, marked as made by this tool."""
    try:
        pwd.getpwnam(name)
        raise SystemExit(f"user {name} exists already; choose other names or remove it")
    except KeyError:
        pass
    _run(["useradd", "--create-home", "--shell", "/bin/bash", "--comment", MARK, name])
    os.chmod(pwd.getpwnam(name).pw_dir, home_mode)


def _user_pids(uid):
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    pids.append(int(entry.name))
            except FileNotFoundError:
                pass
    return pids


def _end_processes(uids, grace=5):
    """SIGTERM every process of these uids, SIGKILL what is left after ``grace`` seconds."""
    def pids():
        return [pid for uid in uids for pid in _user_pids(uid)]

    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10)):
        for pid in pids():
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + wait
        while pids() and time.monotonic() < deadline:
            time.sleep(0.2)


def remove_users(names):
    """End what the users still run (userdel refuses while they do), then remove them."""
    entries = []
    for name in names:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if entry.pw_gecos.split(",")[0] != MARK:
            raise SystemExit(f"refusing to remove {name}: not created by this tool")
        entries.append(entry)
    _end_processes([e.pw_uid for e in entries])
    failed = [e.pw_name for e in entries
              if subprocess.run(["userdel", "--remove", e.pw_name], stderr=subprocess.DEVNULL).returncode]
    if failed:
        raise SystemExit(f"userdel failed for {failed}: do they still run something? (ps -u NAME)")


def remove_user(name):
    remove_users([name])


def _copy_course(dest, owner):
    dest.mkdir()
    for name in COURSE_FILES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(src, dest / name)
    _run(["chown", "-R", f"{owner}:{owner}", str(dest)])


def prepare(base, instructors, students, port=None):
    """Create users, course directory, exchange and configuration of a deployment.

    Parameters
    ----------
    base : folder for the deployment (created; must not exist).
    instructors, students : lists of user names to create.
    port : the hub's public port on 127.0.0.1 (a free one if None).

    Returns
    -------
    Deployment
    """
    student_env, instructor_env = build_environments()
    base = Path(base)
    base.mkdir(parents=True)
    os.chmod(base, 0o755)
    dep = Deployment(base=str(base), port=port or free_port(), hub_port=free_port(),
                     proxy_api_port=free_port(), instructors=list(instructors), students=list(students),
                     password=secrets.token_urlsafe(12), student_env=str(student_env),
                     instructor_env=str(instructor_env))
    for name in [*instructors, *students]:
        create_user(name)
    # Instructors' group: the only users (besides root) who can read the instructor env.
    if subprocess.run(["getent", "group", INSTRUCTORS_GROUP], capture_output=True).returncode:
        _run(["groupadd", "--system", INSTRUCTORS_GROUP])
    for name in instructors:
        _run(["usermod", "--append", "--groups", INSTRUCTORS_GROUP, name])
    shutil.chown(instructor_env, "root", INSTRUCTORS_GROUP)
    os.chmod(instructor_env, 0o750)
    # The exchange: root-owned, world-writable with the sticky bit.
    Path(dep.exchange).mkdir()
    os.chmod(dep.exchange, 0o1777)
    # Jupyter configuration of each role (JUPYTER_CONFIG_PATH of their servers).
    settings = dep.to_dict()
    for role in ("student", "instructor"):
        shutil.copytree(HERE / role, settings[f"{role}_config_dir"])
    _run(["chmod", "-R", "a+rX", str(base / "config")])
    # The course, owned by the first instructor, in their private home. Its make targets
    # use the instructor environment (VENV, set in the instructors' servers), which has
    # the course's own package on its path.
    owner = instructors[0]
    course = Path(dep.course_dir)
    _copy_course(course, owner)
    site = next((Path(instructor_env) / "lib").glob("python3*/site-packages"))
    (site / "rnncourse-course.pth").write_text(f"{course}\n")
    (Path(instructor_env) / ".installed").touch()  # make's stamp: nothing to install
    # JupyterLab asks every new user whether to fetch news from the internet: no.
    for env in (student_env, instructor_env):
        overrides = Path(env) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
        overrides.parent.mkdir(parents=True, exist_ok=True)
        overrides.write_text(json.dumps(LAB_OVERRIDES, indent=1))
    state = Path(dep.state_dir)
    state.mkdir(mode=0o700)
    dep.settings_file.write_text(json.dumps(settings, indent=1))
    os.chmod(dep.settings_file, 0o600)
    return dep


def start(dep, log=None):
    """Start JupyterHub (as root) in its own process group; returns the Popen."""
    env = {"PATH": f"{dep.student_env}/bin:/usr/local/bin:/usr/bin:/bin", "HOME": dep.state_dir,
           "LANG": os.environ.get("LANG", "C.UTF-8"), "RNNCOURSE_HUB_SETTINGS": str(dep.settings_file)}
    for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if key in os.environ:
            env[key] = os.environ[key]
    return subprocess.Popen(
        [f"{dep.student_env}/bin/jupyterhub", "-f", str(HERE / "jupyterhub_config.py")],
        cwd=dep.state_dir, env=env, stdout=log, stderr=subprocess.STDOUT if log else None,
        start_new_session=True)


def wait_ready(dep, proc, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterHub exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{dep.url}/hub/api", timeout=5) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"JupyterHub did not answer on {dep.url} within {timeout} s")


def stop(proc, timeout=30):
    """Stop the hub (SIGTERM to its process group), which then stops the proxy.

    The proxy and the users' servers run in process groups of their own: killing the
    hub's group alone leaves them running.
    """
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def teardown(dep, proc=None):
    """Users' servers first, then the hub and its proxy, then the users, then the folder.

    The servers are ended with SIGTERM directly: the hub's own clean-up interrupts them
    with SIGINT, which a server without a terminal answers by waiting for a confirmation.
    """
    uids = []
    for name in [*dep.students, *dep.instructors]:
        try:
            uids.append(pwd.getpwnam(name).pw_uid)
        except KeyError:
            pass
    _end_processes(uids)
    if proc is not None:
        stop(proc)
    # The proxy outlives a killed hub in its own process group: end it by its pid file.
    pidfile = Path(dep.state_dir) / "jupyterhub-proxy.pid"
    if pidfile.exists():
        try:
            os.kill(int(pidfile.read_text()), signal.SIGTERM)
        except (ValueError, ProcessLookupError):
            pass
    remove_users([*dep.students, *dep.instructors])
    shutil.rmtree(dep.base, ignore_errors=True)


def demo(args):
    if os.geteuid() != 0:
        raise SystemExit("make hub needs root: it creates local users and runs their servers as them")
    base = Path(args.base)
    if base.exists():
        raise SystemExit(f"{base} exists: a hub is running or was not torn down; remove it first")
    students = [f"{args.prefix}student{i}" for i in (1, 2, 3)]
    instructors = [f"{args.prefix}instructor"]
    # Ctrl-C, SIGTERM or a closed terminal all end in the teardown below (SIGINT is
    # installed explicitly: a shell that starts make in the background ignores it).
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupted)
    dep = proc = None
    try:
        dep = prepare(base, instructors, students, port=args.port)
        logfile = Path(dep.state_dir) / "jupyterhub.log"
        log = open(logfile, "ab")
        proc = start(dep, log=log)
        wait_ready(dep, proc, timeout=120)
        print(f"""
JupyterHub of the course {COURSE_ID} is running on {dep.url}/hub/login
  password (every account, generated now): {dep.password}
  instructor: {', '.join(instructors)}   students: {', '.join(students)}
  course directory: {dep.course_dir}   exchange: {dep.exchange}
The instructor opens a terminal in JupyterLab and, in ~/{COURSE_ID}:
  nbgrader generate_assignment {ASSIGNMENT} --force && nbgrader release_assignment {ASSIGNMENT}
Formgrader: {dep.url}/user/{instructors[0]}/formgrader (open it directly, not inside JupyterLab).
The hub's log: {logfile}
Ctrl-C stops the hub and removes these accounts and their files.
""", flush=True)
        proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # let the teardown finish
        if dep is None:  # prepare failed half way: remove what it made, nothing else
            for name in [*instructors, *students]:
                try:
                    remove_user(name)
                except SystemExit as refused:
                    print(refused, file=sys.stderr)
            shutil.rmtree(base, ignore_errors=True)
        else:
            teardown(dep, proc)
        print("hub stopped, demo accounts removed")


def _interrupted(signum, frame):
    raise KeyboardInterrupt


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("build", help="build the environments and the proxy (cached)")
    d = sub.add_parser("demo", help="demo accounts and a hub on 127.0.0.1 until Ctrl-C")
    d.add_argument("--port", type=int, default=int(os.environ.get("HUB_PORT", "8000")))
    d.add_argument("--base", default="/srv/rnncourse-hub")
    d.add_argument("--prefix", default="rnn-", help="prefix of the demo account names")
    args = parser.parse_args(argv)
    if args.command == "build":
        print("\n".join(map(str, build_environments())))
    else:
        demo(args)


if __name__ == "__main__":
    sys.exit(main())
