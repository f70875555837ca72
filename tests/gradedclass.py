"""The sample class that several test files read, graded once per test session.

One scratch course holds :data:`CLASS` (correct, blank, a cell that never returns, one and two
typical mistakes, and :func:`rnncourse.authoring.sampleclass.mixed_students`, which together plant
every catalogued mistake). Stock ``nbgrader autograde`` grades one copy and ``make grade`` another
(:func:`grade_stock`, :func:`grade_ours`); both are followed by ``nbgrader generate_feedback``.
``tests/conftest.py`` makes them session fixtures (``graded_seed``, ``stock_graded``,
``ours_graded``), read by ``test_graded_course``, ``test_feedback``, ``test_classreport`` and
``test_runner``: those tests only read them. A test that writes into a graded course works on
its own copy (:func:`copy_graded`).
"""

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from rnncourse import ASSIGNMENT
from rnncourse.authoring import bench, sampleclass

CLASS = {
    "correct": [],
    "bias_forgotten": [("rnn_cell_forward", "bias_forgotten")],
    "two_mistakes": [("rnn_backward", "next_step_gradient_not_added"),
                     ("lstm_cell_backward", "dc_next_ignored")],
    "blank": None,
    "hangs": "hang",
    **sampleclass.mixed_students(),
}
"""``{student: kind}`` as :func:`rnncourse.authoring.sampleclass.write_class` takes it."""

TIMEOUT = 5
"""Per-cell timeout of the scratch course, so the hanging student costs seconds, not 30."""

NBGRADER = str(Path(sys.executable).with_name("nbgrader"))


def env_for(root):
    """Environment of a command run in the scratch course ``root``: its own gradebook."""
    env = dict(os.environ)
    env.pop("RNNCOURSE_DB_URL", None)
    return env


def grade_cli(root, *args, timeout=600):
    """``python -m rnncourse.cli grade`` in a scratch course; the completed process."""
    return subprocess.run([sys.executable, "-m", "rnncourse.cli", "grade", "--root", str(root),
                           "--no-progress", *args], cwd=root, env=env_for(root), capture_output=True,
                          text=True, timeout=timeout)


def generate_feedback(root):
    """``nbgrader generate_feedback``; its output is kept in ``generate_feedback.log``."""
    proc = subprocess.run([NBGRADER, "generate_feedback", ASSIGNMENT, "--force"], cwd=root,
                          env=env_for(root), check=True, capture_output=True, text=True)
    (root / "generate_feedback.log").write_text(proc.stdout + proc.stderr)
    return root


def make_seed(dest):
    """The scratch course with :data:`CLASS` submitted and the assignment in its gradebook."""
    return bench.make_course(dest, CLASS, timeout=TIMEOUT)


def clone(seed, dest, students=None):
    """A copy of the seed course (submissions and gradebook); only ``students`` if given."""
    root = bench.clone_course(seed, dest)
    if students is not None:
        for folder in (root / "submitted").iterdir():
            if folder.name not in students:
                shutil.rmtree(folder)
    return root


@dataclass
class StockRun:
    """A copy of the seed graded by stock nbgrader: its root and what the first run printed."""

    root: Path
    stderr: str


def grade_stock(seed, dest):
    """Stock ``nbgrader autograde`` of the whole class, then feedback and ``grades.csv``."""
    root = clone(seed, dest)
    _, proc = bench.run_stock(root)
    stderr = proc.stderr
    # On a busy machine stock nbgrader sometimes gives up on a submission ("Timeout waiting for
    # IOPub output" after 4 s): grade those once more, as an instructor would.
    for student in re.findall(r"error processing assignment '\w+' for student '(\w+)'", stderr):
        _, proc = bench.run_stock(root, ("--student", student, "--force"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    generate_feedback(root)
    export = subprocess.run([NBGRADER, "export", "--to", str(root / "grades.csv")], cwd=root,
                            env=env_for(root), capture_output=True, text=True)
    assert export.returncode == 0, export.stdout + export.stderr
    return StockRun(root, stderr)


@dataclass
class OursRun:
    """A copy of the seed graded by ``make grade`` (confined): its root and the finished process."""

    root: Path
    proc: subprocess.CompletedProcess


def grade_ours(seed, dest):
    """``make grade`` (``python -m rnncourse.cli grade``, 2 workers) of the whole class, then feedback."""
    root = clone(seed, dest)
    proc = grade_cli(root, "--workers", "2")
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    return OursRun(generate_feedback(root), proc)


def copy_graded(root, dest, leave_out=()):
    """A copy of a graded course to write into, without the folders ``leave_out``."""
    root = Path(root)

    def ignore(folder, names):
        top = set(leave_out) if Path(folder) == root else set()
        return [n for n in names if n in top or n in ("__pycache__", ".ipynb_checkpoints")]

    return Path(shutil.copytree(root, dest, ignore=ignore))
