"""What the class got wrong: ``make report`` (``python -m rnncourse.cli report``).

Reads what grading recorded, never re-runs student code:

* the scores from the gradebook (nbgrader's tables, whichever grader wrote them);
* each hidden test's verdict (:mod:`rnncourse.verdicts.diagnosis`): under ``make grade``
  from the gradebook's ``rnncourse_grading.details`` (the judge's record), after
  stock ``nbgrader autograde`` from the hidden test cells of the autograded
  notebooks;
* who failed or was flagged: ``rnncourse_grading`` (errors, possible tampering),
  or for stock grading the autograded notebook's timeouts and dead kernels.

Writes ``reports/<assignment>/index.html`` (one self-contained page: figures
embedded as PNG, no network) and ``reports/<assignment>/mistakes.csv``
(``function, mistake, students, student_ids``).
"""

import csv
import datetime
import json
from dataclasses import dataclass, field
from pathlib import Path

from rnncourse import ASSIGNMENT, FUNCTIONS, stocknbgrader
from rnncourse.client import testcases
from rnncourse.content import lessons
from rnncourse.run import gradebook
from rnncourse.verdicts import diagnosis

UNEXPLAINED = "(unexplained)"
NOT_IMPLEMENTED = "(not implemented)"
ERROR = "(error or wrong type/shape)"
NO_VERDICT = "(no verdict: not defined or the test did not run)"
SPECIAL = {
    UNEXPLAINED: "wrong values that no named mistake explains",
    NOT_IMPLEMENTED: "the function still raises NotImplementedError",
    ERROR: "the function raised an error, or returned the wrong type or shape",
    NO_VERDICT: "points lost but no verdict recorded: the function was not defined when its "
                "test ran, or the test never ran",
}
CSV_COLUMNS = ("function", "mistake", "students", "student_ids")

# What the stock grader leaves in a cell that ran out of time or lost its kernel.
_TIMEOUT_WORDS = ("CellTimeoutError", "timed out", "TimeoutError")
_CRASH_WORDS = ("DeadKernelError", "Kernel died", "kernel died")


@dataclass
class StudentResult:
    """One student as grading recorded them.

    Attributes
    ----------
    student : str
    state : str
        ``"graded"``, ``"failed"`` (recorded with an error) or ``"not submitted"``.
    total : float
        The assignment's score in the gradebook (0 without submission).
    scores : dict
        Function -> points of its hidden test.
    diagnoses : dict
        Function -> :class:`rnncourse.verdicts.diagnosis.Record`.
    error : str or None
    flags : list of str
        Possible tampering, timeouts, crashes.
    recorded_by : str
        ``"make grade"``, ``"autograded notebook"`` or ``""``.
    """

    student: str
    state: str
    total: float = 0.0
    scores: dict = field(default_factory=dict)
    diagnoses: dict = field(default_factory=dict)
    error: str = None
    flags: list = field(default_factory=list)
    recorded_by: str = ""

    def to_dict(self):
        return {"student": self.student, "state": self.state, "total": self.total,
                "scores": dict(self.scores), "error": self.error, "flags": list(self.flags),
                "recorded_by": self.recorded_by,
                "diagnoses": {fn: d.to_dict() for fn, d in self.diagnoses.items()}}

    @classmethod
    def from_dict(cls, d):
        return cls(student=d["student"], state=d["state"], total=float(d["total"]),
                   scores={k: float(v) for k, v in d["scores"].items()}, error=d.get("error"),
                   flags=list(d.get("flags") or []), recorded_by=d.get("recorded_by", ""),
                   diagnoses={fn: diagnosis.Record.from_dict(v)
                              for fn, v in (d.get("diagnoses") or {}).items()})


@dataclass
class MistakeCount:
    """One row of ``mistakes.csv``: how many students made ``mistake`` in ``function``."""

    function: str
    mistake: str
    students: list
    message: str = ""
    location: dict = None

    def row(self):
        return {"function": self.function, "mistake": self.mistake,
                "students": len(self.students), "student_ids": ";".join(self.students)}


# --------------------------------------------------------------------------- reading the records
def _hidden_cells(nb_path):
    import nbformat

    nb = nbformat.read(str(nb_path), as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        yield gid, cell


def from_notebook(nb_path):
    """``(diagnoses, flags)`` read from an autograded notebook (stock grading)."""
    diagnoses, flags = {}, []
    for gid, cell in _hidden_cells(nb_path):
        if cell.cell_type != "code":
            continue
        if gid.endswith("_hidden") and gid[: -len("_hidden")] in FUNCTIONS:
            fn = gid[: -len("_hidden")]
            found = diagnosis.from_cell(cell, fn)
            if found is not None:
                diagnoses[fn] = found
        for o in cell.get("outputs", []):
            if o.get("output_type") != "error":
                continue
            text = f"{o.get('ename', '')}: {o.get('evalue', '')}".strip().rstrip(":")
            where = f"cell {gid}" if gid else "a cell"
            if any(w in text for w in _TIMEOUT_WORDS):
                flags.append(f"timeout: {where} did not finish in the time a cell is given and was "
                             f"interrupted ({text[:160]})")
            elif any(w in text for w in _CRASH_WORDS):
                flags.append(f"crash: the kernel died in {where} ({text[:160]})")
    return diagnoses, flags


def _status_rows(course, engine):
    from sqlalchemy import inspect, select

    if not inspect(engine).has_table(gradebook.STATUS_TABLE):
        return {}
    t = gradebook._status_table()
    with engine.connect() as con:
        rows = con.execute(select(t).where(t.c.course_id == course.course_id,
                                           t.c.assignment == course.assignment))
        return {r.student: r._asdict() for r in rows}


def _recorded_after_notebook(row, nb_path):
    """Whether ``make grade``'s record is at least as new as the autograded notebook."""
    if row is None or row.get("graded_at") is None:
        return False
    if not nb_path.exists():
        return True
    graded_at = row["graded_at"]
    if isinstance(graded_at, str):
        graded_at = datetime.datetime.fromisoformat(graded_at)
    mtime = datetime.datetime.fromtimestamp(nb_path.stat().st_mtime, datetime.timezone.utc)
    return graded_at.replace(tzinfo=datetime.timezone.utc) >= mtime - datetime.timedelta(seconds=2)


def collect(root=None, db_url=None):
    """Every student of the gradebook with what grading recorded: ``[StudentResult]``."""
    from nbgrader.api import Gradebook, MissingEntry

    stocknbgrader.venv_on_path()
    course = gradebook.load_course(root, db_url)
    autograded = course.autograded_dir()
    results = []
    with Gradebook(course.db_url, course.course_id) as gb:
        status = _status_rows(course, gb.engine)
        for student in sorted(gb.students, key=lambda s: s.id):
            sid = student.id
            try:
                sub = gb.find_submission(course.assignment, sid)
            except MissingEntry:
                results.append(StudentResult(sid, "not submitted"))
                continue
            scores = dict.fromkeys(FUNCTIONS, 0.0)
            for nb in sub.notebooks:
                for g in nb.grades:
                    if g.cell.name.endswith("_hidden") and g.cell.name[: -len("_hidden")] in FUNCTIONS:
                        scores[g.cell.name[: -len("_hidden")]] = float(g.score or 0.0)
            res = StudentResult(sid, "graded", total=float(sub.score or 0.0), scores=scores)
            row = status.get(sid)
            nb_path = autograded / sid / course.assignment / f"{course.notebook}.ipynb"
            if _recorded_after_notebook(row, nb_path):
                res.recorded_by = "make grade"
                res.flags = list(json.loads(row.get("flags") or "[]"))
                if row.get("error"):
                    res.state, res.error = "failed", row["error"]
                details = json.loads(row.get("details") or "{}")
                for info in details.values():
                    d = isinstance(info, dict) and info.get("diagnosis")
                    if d:
                        found = diagnosis.Record.from_dict(d)
                        res.diagnoses[found.fn] = found
                if nb_path.exists():  # timeouts and crashes show in the notebook the runner wrote
                    res.flags += [f for f in from_notebook(nb_path)[1] if f not in res.flags]
            elif nb_path.exists():
                res.recorded_by = "autograded notebook"
                res.diagnoses, res.flags = from_notebook(nb_path)
            results.append(res)
        gb.db.rollback()
    return results


# --------------------------------------------------------------------------- counting
def _catalogue():
    from rnncourse.content.mistakes import MISTAKES

    return MISTAKES


def tally(results, master=None):
    """``[MistakeCount]``: per function, every named mistake seen, then the wrong outputs
    without a name, errors, and points lost without a verdict. ``master``: the master
    notebook whose sections are pointed to (default: this package's course's)."""
    order = {}
    messages = {}
    for m in _catalogue():
        order.setdefault(m.fn, []).append(m.label)
        messages[(m.fn, m.label)] = m.message
    import nbformat

    secs = lessons.sections(nbformat.read(str(master), as_version=4) if master else None)
    rows = []
    for fn in FUNCTIONS:
        named, special = {}, {k: [] for k in SPECIAL}
        for r in results:
            if r.state == "not submitted":
                continue
            d = r.diagnoses.get(fn)
            if d is None:
                if r.scores.get(fn, 0.0) < testcases.POINTS[fn] - 1e-9:
                    special[NO_VERDICT].append(r.student)
                continue
            for label in d.mistakes():
                named.setdefault(label, []).append(r.student)
            if d.unexplained():
                special[UNEXPLAINED].append(r.student)
            errs = d.errors()
            if "missing" in errs:
                special[NOT_IMPLEMENTED].append(r.student)
            if "error" in errs:
                special[ERROR].append(r.student)
        known = order.get(fn, [])
        labels = sorted(named, key=lambda lab: (-len(named[lab]),
                                                known.index(lab) if lab in known else len(known), lab))
        for label in labels:
            loc = lessons.locate(fn, label, secs)
            rows.append(MistakeCount(fn, label, sorted(named[label]),
                                     messages.get((fn, label), label), loc.to_dict()))
        for key in SPECIAL:
            if key == UNEXPLAINED or special[key]:
                rows.append(MistakeCount(fn, key, sorted(special[key]), SPECIAL[key], None))
    return rows


def write_csv(counts, path):
    """``mistakes.csv``: one row per function and mistake (and one per function for the unexplained)."""
    path = Path(path)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        w.writeheader()
        for c in counts:
            w.writerow(c.row())
    return path


# --------------------------------------------------------------------------- writing
@dataclass
class Written:
    """What :func:`build` wrote: paths, the students and the counts."""

    html: Path
    csv: Path
    results: list
    counts: list

    def summary(self):
        graded = [r for r in self.results if r.state != "not submitted"]
        named = sum(len(c.students) for c in self.counts if not c.mistake.startswith("("))
        kinds = len({c.mistake for c in self.counts if not c.mistake.startswith("(") and c.students})
        return (f"report: {len(self.results)} students ({len(graded)} graded, "
                f"{sum(r.state == 'failed' for r in self.results)} failed, "
                f"{sum(bool(r.flags or r.error) for r in self.results)} flagged), "
                f"{named} named mistakes of {kinds} kinds\n  {self.html}\n  {self.csv}")


def build(root=None, db_url=None, out_dir=None):
    """Collect, count and write ``index.html`` and ``mistakes.csv``; return :class:`Written`."""
    from rnncourse.reports import reportpage

    course = gradebook.load_course(root, db_url)
    gradebook.probe(course.db_url)
    out_dir = Path(out_dir or course.root / "reports" / course.assignment)
    results = collect(course.root, db_url)
    if not results:
        raise gradebook.CourseError(
            f"the gradebook ({course.db_url}) has no students yet: grade the class first "
            "(make grade, or nbgrader autograde)")
    master = course.source_dir() / f"{course.notebook}.ipynb"
    counts = tally(results, master if master.is_file() else None)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = write_csv(counts, out_dir / "mistakes.csv")
    generated = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page = reportpage.render(results, counts, assignment=course.assignment, generated=generated,
                             figs=reportpage.figures(results))
    html_path = out_dir / "index.html"
    tmp = html_path.with_suffix(".html.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(html_path)
    return Written(html_path, csv_path, results, counts)


def main(args):
    """``report`` subcommand."""
    try:
        written = build(args.root, args.db_url, args.out)
    except gradebook.CourseError as exc:
        print(f"report: {exc}")
        return 2
    print(written.summary())
    return 0


def add_arguments(p):
    p.add_argument("--root", help="course directory (default: RNNCOURSE_ROOT, else this package's course)")
    p.add_argument("--db-url", help="gradebook URL (default: the course's)")
    p.add_argument("--out", help=f"output folder (default: reports/{ASSIGNMENT}/ in the course)")
