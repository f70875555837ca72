"""Scratch copies of the course, grading them, and reading back what happened.

Adversarial submissions are never graded in the real course: each run copies
the course (without its gradebook, submissions and results) into a temporary
directory and grades there.
"""

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from rnncourse import ASSIGNMENT, FUNCTIONS, stocknbgrader

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.prefix).resolve() / "bin"
SKIP = {".git", ".venv", "submitted", "autograded", "feedback", "test-artifacts", "__pycache__",
        ".pytest_cache", ".ruff_cache", ".hypothesis", "grades.csv", "build", "node_modules"}
WATCHED = ("source", "release", "rnncourse/data", "nbgrader_config.py")


def scratch_course(dest, timeout=None):
    """Copy the course to ``dest`` (not its venv: see :func:`make`); set the cell timeout."""
    dest = Path(dest)

    def ignore(directory, names):
        return [n for n in names if n in SKIP or n.startswith("gradebook.db") or n.endswith(".egg-info")]

    shutil.copytree(ROOT, dest, ignore=ignore, symlinks=True)
    (dest / ".stamp").touch()
    if timeout is not None:
        with open(dest / "nbgrader_config.py", "a") as f:
            f.write(f"\nc.ExecutePreprocessor.timeout = {int(timeout)}\n")
    return dest


def make(target, *variables):
    """``make TARGET`` for a scratch course: this venv, and never a (re)install into it.

    ``VENV`` points at the project's venv (real path, so confined code finds its
    Python) and ``STAMP`` at a fresh file of the copy, so the setup rule of the
    Makefile never runs pip (an editable install from the copy would re-point
    the shared venv at it).
    """
    return ["make", target, f"VENV={VENV_BIN.parent}", f"STAMP={'.stamp'}", *variables]


def env_for(course):
    """Environment of grading commands run in ``course``: its own package and paths first."""
    return stocknbgrader.venv_env(drop=["RNNCOURSE_DB_URL"], PYTHONPATH=str(course),
                                  RNNCOURSE_ROOT=str(course))


def run(cmd, course, timeout, prefix=()):
    """Run ``cmd`` in ``course`` in its own session; kill the session at ``timeout``.

    Returns ``(returncode or None if killed, seconds, output tail)``.
    """
    t0 = time.monotonic()
    proc = subprocess.Popen([*prefix, *cmd], cwd=course, env=env_for(course), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
        code = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        code = None
    return code, time.monotonic() - t0, out.decode("utf-8", "replace")


def prepare_gradebook(course):
    """Create the course's gradebook entries for the assignment (stock nbgrader)."""
    code, _, out = run(["nbgrader", "generate_assignment", ASSIGNMENT, "--force"], course, 300)
    if code != 0:
        raise RuntimeError(f"nbgrader generate_assignment failed:\n{out[-3000:]}")


def fingerprint(course):
    """Hashes of the instructor's files that grading must never change."""
    course = Path(course)
    out = {}
    for rel in WATCHED:
        p = course / rel
        files = [p] if p.is_file() else sorted(q for q in p.rglob("*") if q.is_file()) if p.exists() else []
        for f in files:
            if "__pycache__" not in f.parts:
                out[str(f.relative_to(course))] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


def scores(course):
    """``{student: {fn: points}}`` from the course's gradebook (None when it is gone)."""
    db = Path(course) / "gradebook.db"
    if not db.exists():
        return None
    from nbgrader.api import Gradebook, MissingEntry

    out = {}
    with Gradebook(f"sqlite:///{db}") as gb:
        for student in gb.students:
            try:
                nb = gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, student.id)
            except MissingEntry:
                continue
            got = {fn: 0.0 for fn in FUNCTIONS}
            for grade in nb.grades:
                fn = grade.name.rsplit("_hidden", 1)[0]
                if fn in got and grade.score is not None:
                    got[fn] = float(grade.score)
            out[student.id] = got
    return out


def outputs_text(notebook_text):
    """All output text of a notebook (streams, results, errors), not its sources."""
    import json

    try:
        nb = json.loads(notebook_text)
    except (TypeError, ValueError):
        return ""
    parts = []
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            for value in (out.get("text"), out.get("evalue"), out.get("traceback"),
                          (out.get("data") or {}).get("text/plain")):
                if value:
                    parts.append("".join(value) if isinstance(value, list) else str(value))
    return "\n".join(parts)


def leaks(notebook_text, course=None):
    """What the read attack printed it could read (``LEAK: ...`` lines of the outputs).

    The course path is shown as ``<course>``; environment variables only as a count.
    """
    found, env = set(), 0
    for line in outputs_text(notebook_text).splitlines():
        if "LEAK:" in line:
            what = line.split("LEAK:", 1)[1].strip()[:160]
            if what.startswith("environment"):
                env += 1
                continue
            found.add(what.replace(str(course), "<course>") if course else what)
    if env:
        found.add(f"{env} environment variable name(s)")
    return sorted(found)


def written_mib(notebook_text):
    """What the disk-fill attack reported it wrote (``WROTE: N MiB``), or None."""
    for line in outputs_text(notebook_text).splitlines():
        if line.startswith("WROTE:"):
            return int(line.split()[1])
    return None


def autograded_text(course, student):
    p = Path(course) / "autograded" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    return p.read_text(errors="replace") if p.exists() else None
