"""Grade the whole adversarial class with ``make grade`` in a scratch course; collect what happened."""

import json
import sqlite3
import sys
import time
from pathlib import Path

from rnncourse import ASSIGNMENT

from . import cases as adv
from .course import autograded_text, fingerprint, make, run, scores, scratch_course

CELL_TIMEOUT = 10
"""Per-cell timeout of the scratch course (the real course keeps nbgrader's 30 s)."""

TOTAL_TIMEOUT = 150
"""Wall time per submission of the scratch course (bounds the submissions that hang every cell)."""

GRADE_TIMEOUT = 900


def statuses(course):
    """``{student: {"state", "error", "flags"}}`` from the runner's status table (empty if none)."""
    db = Path(course) / "gradebook.db"
    if not db.exists():
        return {}
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT student, state, error, flags FROM rnncourse_grading").fetchall()
    except sqlite3.Error:
        return {}
    finally:
        con.close()
    return {s: {"state": st, "error": err, "flags": json.loads(fl) if fl else []} for s, st, err, fl in rows}


def grade_class(workdir, names=None, workers=2):
    """Write the class (control + cases ``names``) into a scratch course and ``make grade`` it."""
    workdir = Path(workdir)
    course = scratch_course(workdir / "course", timeout=CELL_TIMEOUT)
    marker = workdir / "marker"
    ctx = adv.Context(course, course / "release" / ASSIGNMENT, token=workdir.name, marker=marker)
    chosen = adv.write_class(ctx, course / "submitted", names)
    before = fingerprint(course)
    report = workdir / "reaper.json"
    reaper = [sys.executable, str(Path(__file__).with_name("reaper.py")), str(report), "--"]
    code, seconds, out = run(reaper + make("grade", f"WORKERS={workers}",
                                           f"GRADE_ARGS=--total-timeout {TOTAL_TIMEOUT}"),
                             course, GRADE_TIMEOUT)
    leftover = json.loads(report.read_text())["leftover"] if report.exists() else ["no reaper report"]
    graded_at = time.monotonic()
    if any(c.name == "lingering_child" for c in chosen):
        time.sleep(max(0.0, adv.STRIKE_DELAY + 2 - (time.monotonic() - graded_at)))
    students = ["control"] + [f"adv_{c.name}" for c in chosen]
    after = fingerprint(course)
    return {
        "course": course,
        "cases": chosen,
        "returncode": code,
        "seconds": seconds,
        "output": out,
        "scores": scores(course),
        "status": statuses(course),
        "changed": sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k)),
        "marker": marker.exists(),
        "leftover": leftover,
        "autograded": {s: autograded_text(course, s) for s in students},
    }
