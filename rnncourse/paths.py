"""Where the course's files are. ``RNNCOURSE_ROOT`` overrides the course root."""

import os
from pathlib import Path

from rnncourse import ASSIGNMENT


def course_root():
    """The course directory (the one holding ``nbgrader_config.py``)."""
    env = os.environ.get("RNNCOURSE_ROOT")
    return Path(env).resolve() if env else Path(__file__).resolve().parent.parent


def source_dir():
    return course_root() / "source" / ASSIGNMENT


def master_notebook():
    return source_dir() / f"{ASSIGNMENT}.ipynb"


def release_dir():
    return course_root() / "release" / ASSIGNMENT


def reference_data():
    """The reference arrays: instructor-only, outside ``source/`` and ``release/``."""
    env = os.environ.get("RNNCOURSE_REFERENCE")
    return Path(env) if env else Path(__file__).resolve().parent / "data" / f"{ASSIGNMENT}_reference.npz"
