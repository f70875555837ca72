"""``make lab``: JupyterLab for a self-learner, on a private copy of the course.

``python -m rnncourse.selfstudy.lab [--port N] [--dir lab] [--no-browser]``

The first run copies the student notebook (``release/rnn_lstm/``) and the
self-study notebooks (``notebooks/``) into a git-ignored work folder,
``lab/`` by default. Later runs copy only files that are still missing, so
the learner's edits are never overwritten and ``release/`` and
``notebooks/`` stay clean. JupyterLab then starts in the work folder on
127.0.0.1 with a fresh token, and the URL is printed.
"""

import argparse
import json
import os
import secrets
import shutil
import socket
import sys
from pathlib import Path

from rnncourse import ASSIGNMENT, paths

STUDENT_NOTEBOOK = f"{ASSIGNMENT}/{ASSIGNMENT}.ipynb"


def prepare(work=None, root=None):
    """Create or top up the work folder; never overwrite a file that exists.

    Parameters
    ----------
    work : path, optional
        The work folder (default: ``lab/`` in the course root).
    root : path, optional
        The course root (default: :func:`rnncourse.paths.course_root`).

    Returns
    -------
    work : Path
        The work folder, holding ``rnn_lstm/`` (the student notebook and its
        helper) and ``notebooks/`` (the self-study notebooks).
    copied : list of Path
        Files copied this time (empty when everything was there already).
    """
    root = Path(root) if root else paths.course_root()
    work = Path(work) if work else root / "lab"
    sources = {
        root / "release" / ASSIGNMENT: work / ASSIGNMENT,
        root / "notebooks": work / "notebooks",
    }
    copied = []
    for src_dir, dst_dir in sources.items():
        if not src_dir.is_dir():
            raise FileNotFoundError(f"{src_dir} is missing: run this from a complete clone of the course")
        for src in sorted(src_dir.iterdir()):
            if not src.is_file() or src.suffix not in (".ipynb", ".py"):
                continue
            dst = dst_dir / src.name
            if not dst.exists():
                dst_dir.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dst)
                copied.append(dst)
    return work, copied


# nbgrader's parts that need a course and an exchange: off for self-study (no instructor, no
# exchange, so they would only log "Unwritable directory, please contact your instructor").
# Validate stays: it needs neither, and tells a learner which functions are not ready.
OFF_SERVER = ("formgrader", "assignment_list", "course_list")
OFF_LAB = ("assignment-list", "course-list", "create-assignment", "menu")


def self_study_config(work):
    """Write the lab's own Jupyter configuration into ``work/.jupyter``; return that folder.

    It comes before the environment's configuration on ``JUPYTER_CONFIG_PATH`` (the
    learner's own ``~/.jupyter`` still comes first) and turns nbgrader's exchange,
    course-list and instructor extensions off, on the server and in JupyterLab.
    """
    cfg = Path(work) / ".jupyter"
    (cfg / "labconfig").mkdir(parents=True, exist_ok=True)
    (cfg / "jupyter_server_config.d").mkdir(exist_ok=True)
    server = {"ServerApp": {"jpserver_extensions": {
        f"nbgrader.server_extensions.{name}": False for name in OFF_SERVER}}}
    (cfg / "jupyter_server_config.d" / "zz-rnncourse-self-study.json").write_text(
        json.dumps(server, indent=2) + "\n")
    lab = {"disabledExtensions": {f"@jupyter/nbgrader:{name}": True for name in OFF_LAB}}
    (cfg / "labconfig" / "page_config.json").write_text(json.dumps(lab, indent=2) + "\n")
    return cfg


def lab_env(work, environ=None):
    """The environment of the lab's server: its own configuration first on the config path."""
    env = dict(os.environ if environ is None else environ)
    extra = [p for p in env.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep) if p]
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join([str(self_study_config(work))] + extra)
    return env


def free_port(preferred=None, host="127.0.0.1"):
    """``preferred`` if it can be bound on ``host``, otherwise a free port the OS picks."""
    for port in ([preferred] if preferred else []) + [0]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise OSError(f"no free port on {host}")


def lab_command(work, port, token, ip="127.0.0.1", open_browser=False, extra=()):
    """The ``jupyter lab`` command line for the work folder.

    Returns
    -------
    argv : list of str
        Runs the JupyterLab of this Python environment, serving ``work`` on
        ``ip:port`` with ``token`` and opening the student notebook first.
    """
    return [
        sys.executable, "-m", "jupyterlab",
        f"--ServerApp.root_dir={work}",
        f"--ServerApp.ip={ip}",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.open_browser={open_browser}",
        f"--LabApp.default_url=/lab/tree/{STUDENT_NOTEBOOK}",
        # Jupyter refuses root unless told; containers and CI machines often run as root.
        *(["--ServerApp.allow_root=True"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
        *extra,
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m rnncourse.selfstudy.lab",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", default=None, help="work folder (default: lab/ in the course root)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("LAB_PORT", "8888")),
                        help="port; another free one is used if it is taken (default 8888, or $LAB_PORT)")
    parser.add_argument("--ip", default=os.environ.get("LAB_IP", "127.0.0.1"),
                        help="address to listen on (default 127.0.0.1, this machine only)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    args = parser.parse_args(argv)

    work, copied = prepare(args.dir)
    for path in copied:
        print(f"copied {path}")
    port = free_port(args.port, args.ip)
    token = secrets.token_hex(24)
    url = f"http://{args.ip}:{port}/lab/tree/{STUDENT_NOTEBOOK}?token={token}"
    print(f"\nJupyterLab on the course, in {work}:\n\n    {url}\n\n"
          f"Open that URL in your browser. Your work stays in {work}/ (git ignores it);\n"
          f"the self-study notebooks are in {work}/notebooks/. Stop with Ctrl-C.\n", flush=True)
    cmd = lab_command(work, port, token, args.ip, open_browser=not args.no_browser)
    env = lab_env(work)
    os.chdir(work)  # nbgrader's handlers read nbgrader_config.py from the current folder
    os.execve(cmd[0], cmd, env)


if __name__ == "__main__":
    main()
