"""Running stock nbgrader from this environment: the one place that puts its scripts first on PATH.

nbgrader runs ``alembic`` by name when it opens a gradebook, and the course's commands run
``nbgrader`` itself as a subprocess: both must be this environment's, whatever PATH the
caller had.
"""

import os
import subprocess
import sys
from pathlib import Path

SCRIPTS = str(Path(sys.executable).parent)
"""This environment's scripts (``nbgrader``, ``alembic``)."""


def nbgrader_bin():
    """This environment's ``nbgrader`` command."""
    return os.path.join(SCRIPTS, "nbgrader")


def venv_env(base=None, drop=(), **extra):
    """A copy of ``base`` (default: ``os.environ``) with the scripts first on PATH.

    ``drop`` names variables to remove, ``extra`` sets others.
    """
    env = dict(os.environ if base is None else base)
    for name in drop:
        env.pop(name, None)
    env["PATH"] = SCRIPTS + os.pathsep + env.get("PATH", "")
    env.update(extra)
    return env


def venv_on_path():
    """Put the scripts first on this process's PATH (for nbgrader's API, which runs alembic)."""
    if os.environ.get("PATH", "").split(os.pathsep)[:1] != [SCRIPTS]:
        os.environ["PATH"] = SCRIPTS + os.pathsep + os.environ.get("PATH", "")


def run(args, cwd, env=None, check=False):
    """Run ``nbgrader ARGS`` in ``cwd`` with ``env`` (default: :func:`venv_env`); output captured."""
    return subprocess.run([nbgrader_bin(), *args], cwd=cwd, env=venv_env() if env is None else env,
                          capture_output=True, text=True, check=check)
