"""``make lab``: JupyterLab for a self-learner, on a private copy of the course.

``python -m rnncourse.lab [--port N] [--dir lab] [--no-browser]``

The first run copies the student notebook (``release/rnn_lstm/``) and the
self-study notebooks (``notebooks/``) into a git-ignored work folder,
``lab/`` by default. Later runs copy only files that are still missing, so
the learner's edits are never overwritten and ``release/`` and
``notebooks/`` stay clean. JupyterLab then starts in the work folder on
127.0.0.1 with a fresh token, and the URL is printed.
"""

import argparse
import os
import secrets
import shutil
import socket
import sys
from pathlib import Path

from . import ASSIGNMENT, paths

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
    parser = argparse.ArgumentParser(prog="python -m rnncourse.lab", description=__doc__.split("\n\n")[0])
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
    os.execv(cmd[0], cmd)


if __name__ == "__main__":
    main()
