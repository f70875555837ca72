"""Every access of ``make grade`` to the course configuration and the gradebook.

Only the coordinating process (:mod:`rnncourse.run.runner`) calls this module, so
there is exactly one writer. The gradebook is nbgrader's own database
(SQLite by default, any SQLAlchemy URL such as ``postgresql://...`` through
``db_url``); the runner writes the same rows as ``nbgrader autograde``
(student, submission, grades, comments, late penalty) plus one row per
student in a table of its own, ``rnncourse_grading``, which records what was
graded (a fingerprint of the submission), when, and any error or possible
tampering. All rows of one student are written in one transaction, so a run
killed at any moment leaves each student either fully recorded or untouched.
"""

import contextlib
import datetime
import json
import os
import sqlite3
import tempfile
import types
from dataclasses import dataclass
from pathlib import Path

from rnncourse import ASSIGNMENT, paths, stocknbgrader

STATUS_TABLE = "rnncourse_grading"
BACKUPS_KEPT = 5


class CourseError(Exception):
    """The course directory or the gradebook is not usable; the message says how to fix it."""


# --------------------------------------------------------------------------- configuration
@dataclass
class Course:
    """Where a course lives and how nbgrader is configured for it.

    Attributes
    ----------
    root : Path
        The course directory (holds ``nbgrader_config.py``).
    config : traitlets.config.Config
        The course's nbgrader configuration.
    db_url : str
        Gradebook URL (``db_url`` argument, else the configuration's).
    course_id : str
        nbgrader course id.
    assignment : str
        Assignment name (``rnn_lstm``).
    """

    root: Path
    config: object
    db_url: str
    course_id: str
    assignment: str = ASSIGNMENT

    @property
    def notebook(self):
        return self.assignment

    def coursedir(self):
        from nbgrader.coursedir import CourseDirectory

        cd = CourseDirectory(config=self.config)
        cd.root = str(self.root)
        cd.db_url = self.db_url
        return cd

    def submitted_dir(self):
        return self.root / self.coursedir().submitted_directory

    def autograded_dir(self):
        return self.root / self.coursedir().autograded_directory

    def source_dir(self):
        return self.root / self.coursedir().source_directory / self.assignment

    def release_dir(self):
        return self.root / self.coursedir().release_directory / self.assignment

    def ignore(self):
        return list(self.coursedir().ignore)


def load_course(root=None, db_url=None):
    """Read ``nbgrader_config.py`` of the course at ``root`` (default: the course of this package).

    Parameters
    ----------
    root : str or Path, optional
        Course directory.
    db_url : str, optional
        Gradebook URL overriding the configuration (e.g. ``postgresql://...``).

    Returns
    -------
    Course
    """
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    root = Path(root or paths.course_root()).resolve()
    cfg_file = root / "nbgrader_config.py"
    if not cfg_file.exists():
        raise CourseError(f"{root} has no nbgrader_config.py: run this from the course directory "
                          "or pass the course root (--root / RNNCOURSE_ROOT)")
    config = Config()
    config.merge(PyFileConfigLoader(cfg_file.name, path=str(root)).load_config())
    course_dir = config.get("CourseDirectory", {})
    url = db_url or course_dir.get("db_url") or f"sqlite:///{root / 'gradebook.db'}"
    course_id = course_dir.get("course_id") or "default_course"
    url = with_driver(str(url))
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.db_url = url
    return Course(root=root, config=config, db_url=str(url), course_id=str(course_id))


def with_driver(db_url):
    """``postgresql://`` names the psycopg2 driver when psycopg (3), SQLAlchemy's default, is absent."""
    import importlib.util

    if db_url.startswith("postgresql://") and importlib.util.find_spec("psycopg") is None \
            and importlib.util.find_spec("psycopg2") is not None:
        return "postgresql+psycopg2://" + db_url[len("postgresql://"):]
    return db_url


def probe(db_url):
    """Open and close one connection to the gradebook; a :class:`CourseError` in one line if it fails.

    The message names the database (password hidden), what failed, and what to check.
    """
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    try:
        url = make_url(db_url)
    except ArgumentError:
        raise CourseError(f"{db_url!r} is not a database URL: use e.g. sqlite:///gradebook.db or "
                          "postgresql://user@host/dbname (--db-url or RNNCOURSE_DB_URL)") from None
    shown = url.render_as_string(hide_password=True)
    try:
        engine = create_engine(url)
    except (ImportError, SQLAlchemyError) as exc:
        raise CourseError(f"cannot use the gradebook {shown}: {type(exc).__name__}: "
                          f"{_first_line(exc)}. Check that the database driver for "
                          f"'{url.drivername}' is installed in this environment") from None
    try:
        with engine.connect() as con:
            con.execute(text("SELECT 1"))
    except (OSError, SQLAlchemyError) as exc:
        hint = ("check that its folder exists and is writable" if url.get_backend_name() == "sqlite"
                else "check that the server is running and reachable from here, and the user, "
                "password (~/.pgpass or PGPASSWORD) and database name")
        raise CourseError(f"cannot connect to the gradebook {shown}: {_first_line(exc)}; {hint}, or "
                          "leave out --db-url / RNNCOURSE_DB_URL to use the course's gradebook.db") from None
    finally:
        engine.dispose()


def _first_line(exc):
    orig = getattr(exc, "orig", None) or exc
    lines = [ln.strip() for ln in str(orig).splitlines() if ln.strip()]
    return lines[0] if lines else type(exc).__name__


# --------------------------------------------------------------------------- setup
def sqlite_path(db_url):
    """The file of an SQLite URL, or None for another database."""
    from sqlalchemy.engine import make_url

    url = make_url(db_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def backup(db_url, keep=BACKUPS_KEPT):
    """Copy an SQLite gradebook to ``<name>.backup-<UTC time>`` (consistent, online); keep the last ``keep``.

    Returns the backup's path, or None when there is nothing to back up (no
    file yet, or a server database: back those up with the server's tools).
    """
    path = sqlite_path(db_url)
    if path is None or not path.exists():
        return None
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    dest = path.with_name(f"{path.name}.backup-{stamp}")
    src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(dest)
        with dst:
            src.backup(dst)
        dst.close()
    finally:
        src.close()
    old = sorted(path.parent.glob(f"{path.name}.backup-*"))
    for p in old[:-keep]:
        p.unlink()
    return dest


def ensure_assignment(course):
    """Make sure the gradebook knows the assignment, its notebook and cells.

    On a fresh clone the gradebook is empty: stock ``nbgrader
    generate_assignment`` is run into a scratch release folder (the committed
    ``release/`` is not touched), which records the assignment exactly as
    nbgrader does.
    """
    from nbgrader.api import Gradebook, MissingEntry

    stocknbgrader.venv_on_path()
    with Gradebook(course.db_url, course.course_id) as gb:
        try:
            nb = gb.find_notebook(course.notebook, course.assignment)
            if nb.source_cells:
                return False
        except MissingEntry:
            pass
    with tempfile.TemporaryDirectory(prefix="rnncourse-release-") as tmp:
        proc = stocknbgrader.run(
            ["generate_assignment", course.assignment, "--force",
             f"--CourseDirectory.release_directory={tmp}",
             f"--CourseDirectory.db_url={course.db_url}",
             f"--CourseDirectory.course_id={course.course_id}"],
            course.root, stocknbgrader.venv_env(RNNCOURSE_DB_URL=course.db_url))
        if proc.returncode != 0:
            raise CourseError("could not record the assignment in the gradebook with "
                              f"`nbgrader generate_assignment`:\n{proc.stdout}{proc.stderr}")
    return True


def snapshot(course):
    """The assignment as the gradebook records it, as plain objects (read once per run).

    Returns an object with the methods nbgrader's ``OverwriteCells`` and
    ``OverwriteKernelspec`` call on a gradebook (``find_source_cell``,
    ``find_graded_cell``, ``find_notebook``), so the runner sanitizes every
    submission with nbgrader's own code without opening the database again.
    """
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url, course.course_id) as gb:
        nb = gb.find_notebook(course.notebook, course.assignment)

        def plain(cell, **extra):
            return types.SimpleNamespace(name=cell.name, cell_type=getattr(cell, "cell_type", None),
                                         **extra)

        source = [types.SimpleNamespace(name=c.name, cell_type=c.cell_type, locked=c.locked,
                                        source=c.source, checksum=c.checksum)
                  for c in nb.source_cells]
        grade = [plain(c, max_score=c.max_score) for c in nb.grade_cells]
        solution = [plain(c) for c in nb.solution_cells]
        task = [plain(c, max_score=c.max_score) for c in nb.task_cells]
        return Snapshot(course.notebook, course.assignment, nb.kernelspec, source, grade, solution, task)


class Snapshot:
    """Read-only stand-in for :class:`nbgrader.api.Gradebook` during sanitizing."""

    def __init__(self, notebook, assignment, kernelspec, source, grade, solution, task):
        self.key = (notebook, assignment)
        self.notebook = types.SimpleNamespace(kernelspec=kernelspec, source_cells=source,
                                              grade_cells=grade, solution_cells=solution,
                                              task_cells=task)
        self._source = {c.name: c for c in source}
        self._graded = {c.name: c for c in grade + task}

    def _check(self, notebook, assignment):
        from nbgrader.api import MissingEntry

        if (notebook, assignment) != self.key:
            raise MissingEntry()

    def find_notebook(self, notebook, assignment):
        self._check(notebook, assignment)
        return self.notebook

    def find_source_cell(self, name, notebook, assignment):
        from nbgrader.api import MissingEntry

        self._check(notebook, assignment)
        if name not in self._source:
            raise MissingEntry()
        return self._source[name]

    def find_graded_cell(self, name, notebook, assignment):
        from nbgrader.api import MissingEntry

        self._check(notebook, assignment)
        if name not in self._graded:
            raise MissingEntry()
        return self._graded[name]

    def fingerprint(self):
        """Changes when the gradebook's version of the assignment changes."""
        import hashlib

        h = hashlib.sha256()
        for c in self.notebook.source_cells:
            h.update(f"{c.name}\0{c.checksum}\0".encode())
        for c in self.notebook.grade_cells:
            h.update(f"{c.name}\0{c.max_score}\0".encode())
        return h.hexdigest()[:16]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# --------------------------------------------------------------------------- the writer
def _status_table():
    from sqlalchemy import Column, DateTime, Float, MetaData, String, Table, Text

    meta = MetaData()
    return Table(
        STATUS_TABLE, meta,
        Column("course_id", String(128), primary_key=True),
        Column("assignment", String(128), primary_key=True),
        Column("student", String(128), primary_key=True),
        Column("fingerprint", String(128), nullable=False),
        Column("state", String(16), nullable=False),
        Column("error", Text()),
        Column("flags", Text()),
        Column("details", Text()),
        Column("graded_at", DateTime()),
        Column("seconds", Float()),
    )


@dataclass
class Outcome:
    """What the coordinator decided for one student, ready to be recorded.

    Attributes
    ----------
    student : str
    fingerprint : str
        Of the submission (and of the grading setup); unchanged means "already graded".
    timestamp : datetime or None
        From ``timestamp.txt`` as nbgrader reads it.
    scores : dict
        grade_id -> final auto score (float or None) of every graded cell found.
    comments : dict
        grade_id -> auto comment of solution and task cells.
    error : str or None
        Why the submission could not be graded fully (shown to the instructor).
    flags : list of str
        Possible tampering and other warnings for the instructor.
    details : dict
        Per graded cell: in-kernel score, judge and re-check points, reports.
    seconds : float
        Grading time.
    zero_all : bool
        Set every grade of the submission to 0 (no notebook to grade).
    """

    student: str
    fingerprint: str
    timestamp: object = None
    scores: dict = None
    comments: dict = None
    error: str = None
    flags: list = None
    details: dict = None
    seconds: float = 0.0
    zero_all: bool = False


class Store:
    """The one writer of the gradebook during a run.

    Parameters
    ----------
    course : Course
    """

    def __init__(self, course):
        from nbgrader.api import Gradebook

        stocknbgrader.venv_on_path()
        self.course = course
        self.gb = Gradebook(course.db_url, course.course_id)
        self.table = _status_table()
        self.table.metadata.create_all(self.gb.engine)
        self.late_plugin = None
        self._cell_names = None

    def cell_names(self):
        """``{cell id: grade_id}`` of the assignment's cells (read once: the assignment is fixed
        during a run, and looking each grade's cell up again after every commit costs a query)."""
        if self._cell_names is None:
            from nbgrader import api

            q = (self.gb.db.query(api.BaseCell.id, api.BaseCell.name)
                 .join(api.Notebook, api.BaseCell.notebook_id == api.Notebook.id)
                 .join(api.Assignment, api.Notebook.assignment_id == api.Assignment.id)
                 .filter(api.Assignment.name == self.course.assignment,
                         api.Notebook.name == self.course.notebook))
            self._cell_names = dict(q.all())
        return self._cell_names

    def close(self):
        self.gb.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def statuses(self):
        """``{student: row}`` of what earlier runs recorded for this assignment."""
        from sqlalchemy import select

        t = self.table
        rows = self.gb.db.execute(select(t).where(t.c.course_id == self.course.course_id,
                                                  t.c.assignment == self.course.assignment))
        out = {r.student: r._asdict() for r in rows}
        self.gb.db.rollback()
        return out

    def _late_penalty(self, submission, subnb):
        from nbgrader.plugins import LateSubmissionPlugin

        if self.late_plugin is None:
            self.late_plugin = LateSubmissionPlugin(config=self.course.config)
        subnb.late_submission_penalty = None
        if submission.total_seconds_late > 0:
            self.gb.db.flush()
            self.gb.db.expire(subnb, ["score"])
            score = subnb.score
            penalty = self.late_plugin.late_submission_penalty(
                submission.student_id, score, submission.total_seconds_late)
            if penalty is not None:
                penalty = min(max(penalty, 0), score)
                subnb.late_submission_penalty = penalty

    def record(self, outcome):
        """Write one student's grades, comments and status in one transaction."""
        from nbgrader import api
        from sqlalchemy import delete

        db = self.gb.db
        try:
            assignment = self.gb.find_assignment(self.course.assignment)
            student = db.get(api.Student, outcome.student)
            if student is None:
                student = api.Student(id=outcome.student)
                db.add(student)
            submission = (db.query(api.SubmittedAssignment)
                          .filter(api.SubmittedAssignment.assignment_id == assignment.id,
                                  api.SubmittedAssignment.student_id == outcome.student)
                          .one_or_none())
            if submission is None:  # the same rows as nbgrader's Gradebook.add_submission
                with db.no_autoflush:
                    submission = api.SubmittedAssignment(assignment=assignment, student=student)
                    for notebook in assignment.notebooks:
                        nb = api.SubmittedNotebook(notebook=notebook, assignment=submission)
                        for cell in notebook.grade_cells:
                            api.Grade(cell_id=cell.id, notebook=nb)
                        for cell in notebook.solution_cells:
                            api.Comment(cell_id=cell.id, notebook=nb)
                        for cell in notebook.task_cells:
                            api.Comment(cell_id=cell.id, notebook=nb)
                            api.Grade(cell_id=cell.id, notebook=nb)
                    db.add(submission)  # after the tree is built: the add cascades to all of it
            if outcome.timestamp is not None:
                submission.timestamp = outcome.timestamp
            db.flush()
            subnb = next(n for n in submission.notebooks if n.notebook.name == self.course.notebook)
            scores = outcome.scores or {}
            names = self.cell_names()
            for grade in subnb.grades:
                name = names.get(grade.cell_id) or grade.cell.name
                if outcome.zero_all:
                    grade.auto_score = 0
                    grade.needs_manual_grade = False
                elif name in scores:
                    grade.auto_score = scores[name]
                    grade.needs_manual_grade = (grade.manual_score is not None
                                                or grade.auto_score is None)
            comments = outcome.comments or {}
            for comment in subnb.comments:
                name = names.get(comment.cell_id) or comment.cell.name
                if name in comments:
                    comment.auto_comment = comments[name]
            if not outcome.zero_all:
                self._late_penalty(submission, subnb)
            t = self.table
            db.execute(delete(t).where(t.c.course_id == self.course.course_id,
                                       t.c.assignment == self.course.assignment,
                                       t.c.student == outcome.student))
            db.execute(t.insert().values(
                course_id=self.course.course_id, assignment=self.course.assignment,
                student=outcome.student, fingerprint=outcome.fingerprint,
                state="failed" if outcome.error else "graded", error=outcome.error,
                flags=json.dumps(outcome.flags or []), details=json.dumps(outcome.details or {}),
                graded_at=datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None),
                seconds=float(outcome.seconds)))
            db.commit()
        except BaseException:
            db.rollback()
            raise

    def export_csv(self, path):
        """Write nbgrader's standard ``grades.csv`` (its CSV export plugin) to ``path``."""
        from nbgrader.plugins.export import CsvExportPlugin

        plugin = CsvExportPlugin(config=self.course.config)
        plugin.to = str(path)
        with contextlib.redirect_stdout(open(os.devnull, "w")):
            plugin.export(self.gb)
        self.gb.db.rollback()
        return Path(path)


def grades(db_url, assignment=ASSIGNMENT, students=None):
    """``{student: {grade_id: score}}`` read from any nbgrader gradebook (used to compare with stock)."""
    from nbgrader.api import Gradebook

    stocknbgrader.venv_on_path()
    out = {}
    with Gradebook(with_driver(db_url)) as gb:
        for sub in gb.assignment_submissions(assignment):
            if students is not None and sub.student_id not in students:
                continue
            for nb in sub.notebooks:
                for g in nb.grades:
                    out.setdefault(sub.student_id, {})[g.cell.name] = g.score
    return out
