"""The course's main job, end to end, on a sample class (``make demo``).

1. regenerate release/ with stock ``nbgrader generate_assignment``;
2. write a sample class into submitted/ (a correct student, one student per
   typical mistake, a blank notebook, a cell that never returns);
3. autograde it with stock ``nbgrader autograde``, generate feedback, export
   grades.csv;
4. print the score of every student in every function, and what the hidden
   tests told each student.
"""

import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat

from . import ASSIGNMENT, FUNCTIONS, cases, paths, release, sampleclass


def nbgrader(*args, root=None):
    """Run a stock nbgrader command in the course directory; fail loudly with its log."""
    root = root or paths.course_root()
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    proc = subprocess.run([release.nbgrader_bin(), *args], cwd=root, env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def scores(db_url, students):
    """``{student: {fn: points}}`` from the gradebook (hidden test cells, by grade_id prefix)."""
    from nbgrader.api import Gradebook

    out = {}
    with Gradebook(db_url) as gb:
        for student in students:
            nb = gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, student)
            per_fn = dict.fromkeys(FUNCTIONS, 0.0)
            for grade in nb.grades:
                fn = next((f for f in FUNCTIONS if grade.name == f"{f}_hidden"), None)
                if fn is not None:
                    per_fn[fn] = float(grade.score or 0.0)
            out[student] = per_fn
    return out


def hidden_reports(student, root=None):
    """What each hidden test cell printed for one student (from the autograded notebook)."""
    root = Path(root or paths.course_root())
    nb = nbformat.read(str(root / "autograded" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"), 4)
    reports = {}
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        if grade_id.endswith("_hidden"):
            text = []
            for o in cell.get("outputs", []):
                if o.output_type == "stream":
                    text.append(o.text)
                elif o.output_type == "error":
                    text.append(f"{o.ename}: {o.evalue}")
            reports[grade_id[: -len("_hidden")]] = "".join(text).strip()
    return reports


def table(all_scores):
    short = {f: f.replace("_forward", "_fw").replace("_backward", "_bw") for f in FUNCTIONS}
    head = f"{'student':<18}" + "".join(f"{short[f]:>14}" for f in FUNCTIONS) + f"{'total':>8}"
    lines = [head, "-" * len(head)]
    lines.append(f"{'(max)':<18}" + "".join(f"{cases.POINTS[f]:>14}" for f in FUNCTIONS)
                 + f"{sum(cases.POINTS.values()):>8}")
    for student, per_fn in all_scores.items():
        lines.append(f"{student:<18}" + "".join(f"{per_fn[f]:>14.4g}" for f in FUNCTIONS)
                     + f"{sum(per_fn.values()):>8.4g}")
    return "\n".join(lines)


def main(args=None):
    root = paths.course_root()
    t0 = time.perf_counter()
    print("1. regenerating release/ with nbgrader generate_assignment ...")
    nbgrader("generate_assignment", ASSIGNMENT, "--force")
    leaks = release.leaks()
    if leaks:
        print("release leaks:", *leaks, sep="\n  ")
        return 1
    print("2. writing the sample class into submitted/ ...")
    students = sampleclass.write_class()
    print("   " + ", ".join(students))
    print("3. nbgrader autograde (one notebook after another; the hanging cell takes its 30 s) ...")
    t1 = time.perf_counter()
    nbgrader("autograde", ASSIGNMENT, "--force")
    t_auto = time.perf_counter() - t1
    nbgrader("generate_feedback", ASSIGNMENT, "--force")
    nbgrader("export", "--to", str(root / "grades.csv"))
    from nbgrader.apps import NbGraderAPI  # noqa: F401  (ensures nbgrader config importable)

    db_url = os.environ.get("RNNCOURSE_DB_URL", f"sqlite:///{root / 'gradebook.db'}")
    all_scores = scores(db_url, students)
    print(f"\nScores per student and function (hidden tests; autograde took {t_auto:.1f} s):\n")
    print(table(all_scores))
    print("\nWhat the hidden tests told each student with a typical mistake:")
    for student, errors in sampleclass.STUDENTS.items():
        if not errors or not isinstance(errors, list):
            continue
        for fn, _ in errors:
            print(f"\n[{student}] {fn}:\n{hidden_reports(student)[fn]}")
    with open(root / "grades.csv") as f:
        n = sum(1 for _ in csv.DictReader(f))
    print(f"\ngrades.csv: {n} rows; feedback/ holds each student's feedback HTML; "
          f"autograded/ the graded notebooks. Total {time.perf_counter() - t0:.1f} s.")
    return 0
