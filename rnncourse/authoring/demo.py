"""The course's main job, end to end, on a sample class (``make demo``).

Everything happens in a complete nbgrader course of its own, ``demo/``
(git-ignored, rebuilt on every run), so the course's ``submitted/``,
``autograded/``, ``feedback/`` and gradebook only ever hold real students:

1. copy ``source/`` and the course's configuration into ``demo/`` (with the
   demo's own gradebook and exchange) and release the assignment there with
   stock ``nbgrader generate_assignment``;
2. write a sample class into ``demo/submitted/`` (a correct student, one
   student per typical mistake, a blank notebook, a cell that never returns);
3. autograde it with stock ``nbgrader autograde``, generate feedback, release
   it into the demo's exchange, export ``demo/grades.csv``;
4. print the score of every student in every function, and what the hidden
   tests told each student;
5. write the class report (``make report``) into ``demo/reports/``: what the
   class got wrong, function by function.
"""

import csv
import shutil
import time
from pathlib import Path

import nbformat

from rnncourse import ASSIGNMENT, FUNCTIONS, paths, stocknbgrader
from rnncourse.authoring import release, sampleclass, scratchcourse
from rnncourse.client import testcases
from rnncourse.reports import classreport

DEMO_CONFIG = """
# ---- added by `make demo`: this copy is the demo's own course --------------------------
# Its own gradebook and exchange, whatever RNNCOURSE_DB_URL says, so the sample class
# never reaches the course's gradebook.
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(HERE, "gradebook.db")
c.Exchange.root = os.path.join(HERE, "exchange")
"""


def demo_root():
    """Where ``make demo`` builds its course: ``demo/`` beside the course's files."""
    return paths.course_root() / "demo"


def build_course(dest=None):
    """A fresh nbgrader course at ``dest`` (default ``demo/``) from the course's source.

    Returns the course root. Whatever was there before is removed: it holds only
    what an earlier demo wrote.
    """
    dest = Path(dest or demo_root())
    if dest.exists():
        shutil.rmtree(dest)
    scratchcourse.copy_course(dest, ("source",), config_extra=DEMO_CONFIG)
    (dest / "exchange").mkdir()
    return dest


def nbgrader(*args, root=None):
    """Run a stock nbgrader command in the course directory; fail loudly with its log."""
    root = root or paths.course_root()
    # The demo's configuration names its own gradebook.
    proc = stocknbgrader.run(args, root, stocknbgrader.venv_env(drop=["RNNCOURSE_DB_URL"]))
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
    lines.append(f"{'(max)':<18}" + "".join(f"{testcases.POINTS[f]:>14}" for f in FUNCTIONS)
                 + f"{sum(testcases.POINTS.values()):>8}")
    for student, per_fn in all_scores.items():
        lines.append(f"{student:<18}" + "".join(f"{per_fn[f]:>14.4g}" for f in FUNCTIONS)
                     + f"{sum(per_fn.values()):>8.4g}")
    return "\n".join(lines)


def run(students=None, dest=None, timeout=None):
    """Build the demo course, grade ``students`` there, print the report; return the root.

    Parameters
    ----------
    students : dict, optional
        ``{student: kind}`` as :func:`rnncourse.authoring.sampleclass.write_class` takes
        (default: the sample class, :data:`rnncourse.authoring.sampleclass.STUDENTS`).
    dest : Path, optional
        Where to build the course (default ``demo/``).
    timeout : int, optional
        Per-cell timeout of the autograder (default: the course's, 30 s).
    """
    t0 = time.perf_counter()
    root = build_course(dest)
    shown = root
    if root.is_relative_to(paths.course_root()):
        shown = root.relative_to(paths.course_root())
    print(f"1. building the demo course in {shown}/ and releasing the assignment there "
          "(nbgrader generate_assignment) ...")
    nbgrader("generate_assignment", ASSIGNMENT, "--force", root=root)
    rel = root / "release" / ASSIGNMENT
    leaks = release.leaks(rel)
    if leaks:
        raise RuntimeError("the release leaks:\n  " + "\n  ".join(leaks))
    print(f"2. writing the sample class into {shown}/submitted/ ...")
    kinds = sampleclass.STUDENTS if students is None else students
    students = sampleclass.write_class(root / "submitted", kinds, release=rel)
    print("   " + ", ".join(students))
    print("3. nbgrader autograde (one notebook after another; a hanging cell takes its 30 s) ...")
    t1 = time.perf_counter()
    extra = [f"--ExecutePreprocessor.timeout={int(timeout)}"] if timeout else []
    nbgrader("autograde", ASSIGNMENT, "--force", *extra, root=root)
    t_auto = time.perf_counter() - t1
    nbgrader("generate_feedback", ASSIGNMENT, "--force", root=root)
    nbgrader("release_feedback", ASSIGNMENT, root=root)
    nbgrader("export", "--to", str(root / "grades.csv"), root=root)
    all_scores = scores(f"sqlite:///{root / 'gradebook.db'}", students)
    print(f"\nScores per student and function (hidden tests; autograde took {t_auto:.1f} s):\n")
    print(table(all_scores))
    print("\nWhat the hidden tests told each student with a typical mistake:")
    for student, errors in kinds.items():
        for fn, _ in (errors if isinstance(errors, list) else []):
            print(f"\n[{student}] {fn}:\n{hidden_reports(student, root)[fn]}")
    written = classreport.build(root, f"sqlite:///{root / 'gradebook.db'}")
    print(f"\nWhat the class got wrong, {written.summary()}")
    with open(root / "grades.csv") as f:
        n = sum(1 for _ in csv.DictReader(f))
    print(f"\nAll in {shown}/ (the course's own folders are untouched): grades.csv {n} rows, "
          f"feedback/ each student's feedback HTML (released into exchange/), autograded/ the "
          f"graded notebooks, reports/ the class report, gradebook.db. `make clean-demo` removes it. "
          f"Total {time.perf_counter() - t0:.1f} s.")
    return root


def main(args=None):
    try:
        run()
    except RuntimeError as exc:
        print(exc)
        return 1
    return 0
