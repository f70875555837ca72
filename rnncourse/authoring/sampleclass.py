"""A sample class of submissions built from the release and the reference.

Each student's notebook is the released notebook with its solution cells
filled in: with the master notebook's solution (markers removed) for a correct
student, with a typical mistake from :mod:`rnncourse.content.mistakes` applied, left
blank, or with a cell that never returns.
"""

import inspect
import re
import secrets
import shutil
from pathlib import Path

import nbformat

from rnncourse import ASSIGNMENT, FUNCTIONS, paths
from rnncourse.content import mistakes, reference

MARKER = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n", re.MULTILINE)

# student id -> list of (function, mistake label); special entries below.
STUDENTS = {
    "correct": [],
    "bias_forgotten": [("rnn_cell_forward", "bias_forgotten")],
    "a0_every_step": [("rnn_forward", "a0_every_step")],
    "tanh_wrong_state": [("rnn_cell_backward", "tanh_derivative_wrong_state")],
    "bptt_not_added": [("rnn_backward", "next_step_gradient_not_added")],
    "concat_order": [("lstm_cell_forward", "concat_order")],
    "c0_not_zeros": [("lstm_forward", "c0_not_zeros")],
    "dc_next_ignored": [("lstm_cell_backward", "dc_next_ignored")],
    "grads_overwritten": [("lstm_backward", "gradients_overwritten")],
    "blank": None,
    "hangs": "hang",
}


# How a student writes a mistake that the catalogue expresses as a patched helper:
# the wrong helper is defined in the student's cell and called instead.
WRONG_HELPERS = {"softmax": mistakes._softmax_over_examples}


def student_sources(errors=()):
    """Solution-cell sources a student would write: the reference, with ``errors`` applied."""
    sources = reference.solution_sources()
    for fn, label in errors:
        m = next(m for m in mistakes.MISTAKES if m.fn == fn and m.label == label)
        for old, new in m.edits:
            sources[fn] = sources[fn].replace(old, new)
        for name in m.patch:
            wrong = WRONG_HELPERS[name]
            sources[fn] = (inspect.getsource(wrong) + "\n\n"
                           + sources[fn].replace(f"{name}(", f"{wrong.__name__}("))
    return {fn: MARKER.sub("", sources[fn]) for fn in FUNCTIONS}


def mixed_students():
    """Students covering every catalogued mistake: student k makes mistake k of each function.

    A function with fewer than k + 1 catalogued mistakes is written correctly, so
    the class also shows that a mistake costs points only where it is made.
    """
    per_fn = {fn: mistakes.for_function(fn) for fn in FUNCTIONS}
    depth = max(len(v) for v in per_fn.values())
    return {f"mixed_{k + 1}": [(fn, ms[k].label) for fn, ms in per_fn.items() if k < len(ms)]
            for k in range(depth)}


def fill(release_nb, sources):
    """The release notebook with its solution cells replaced by ``sources``."""
    nb = nbformat.from_dict(release_nb)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and grade_id in sources:
            cell.source = sources[grade_id]
    return nb


def student_notebook(kind, release_nb):
    if kind is None:
        return nbformat.from_dict(release_nb)
    if kind == "hang":
        sources = student_sources()
        # A cell that never returns: the loop runs before rnn_cell_backward is defined.
        sources["rnn_cell_backward"] = "while True:\n    pass\n\n" + sources["rnn_cell_backward"]
        return fill(release_nb, sources)
    return fill(release_nb, student_sources(kind))


TIMESTAMP = "2026-01-15 09:00:00.000000 UTC"
"""Submission time of the sample students (nbgrader's ``timestamp.txt`` format)."""


def write_class(dest=None, students=None, release=None):
    """Write ``<dest>/<student>/rnn_lstm/`` for every sample student; return the ids.

    Each folder holds what a submission collected from the exchange holds: the
    student's notebook, the released files, ``timestamp.txt`` and
    ``submission_secret.txt`` (``nbgrader release_feedback`` needs both; the secret
    is random, as ``nbgrader submit`` makes it).

    Parameters
    ----------
    dest : Path, optional
        The course's ``submitted/`` folder (default: this course's).
    students : dict, optional
        ``{student: kind}`` (default: :data:`STUDENTS`).
    release : Path, optional
        The released assignment folder to start from (default: this course's).
    """
    dest = Path(dest or paths.course_root() / "submitted")
    rel = Path(release or paths.release_dir())
    release_nb = nbformat.read(str(rel / f"{ASSIGNMENT}.ipynb"), as_version=4)
    students = STUDENTS if students is None else students
    for student, kind in students.items():
        folder = dest / student / ASSIGNMENT
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        for f in rel.iterdir():
            if f.name != f"{ASSIGNMENT}.ipynb" and f.is_file():
                shutil.copy(f, folder / f.name)
        nbformat.write(student_notebook(kind, release_nb), str(folder / f"{ASSIGNMENT}.ipynb"))
        (folder / "timestamp.txt").write_text(TIMESTAMP)
        (folder / "submission_secret.txt").write_text(secrets.token_hex(64))
    return list(students)
