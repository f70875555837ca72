"""Students' LMS identities: ``make roster FILE=...`` (``python -m rnncourse.cli roster FILE``).

Reads the roster CSV that Canvas (Grades > Export) or Moodle (Grades > Export >
Plain text file, or the participants' download) gives, matches every row to an
nbgrader student id, and records the identities in the gradebook: names, email
and ``lms_user_id`` in nbgrader's own student table, and what nbgrader has no
column for (Canvas's SIS User ID, SIS Login ID and section, Moodle's ID
number) in a table of its own, ``rnncourse_roster``. Students of the roster
without a submission are added to the student table, so every export lists
them (with 0 points). The report names every student who is in the roster but
not graded, and every student graded but not in the roster: nobody is dropped
silently.
"""

import csv
from dataclasses import dataclass, field
from pathlib import Path

from rnncourse import stocknbgrader
from rnncourse.run import gradebook

ROSTER_TABLE = "rnncourse_roster"

# Columns that may hold the nbgrader student id (a JupyterHub user name), in order of preference.
ID_CANDIDATES = ("SIS Login ID", "Username", "SIS User ID", "ID number", "ID", "Email address",
                 "Email address (local part)")


class RosterError(Exception):
    """The roster file cannot be read; the message says why and what to do."""


@dataclass
class Entry:
    """One student of the roster.

    Attributes
    ----------
    student_id : str
        The nbgrader student id it was matched to.
    first_name, last_name, email : str
    lms_user_id : str
        Canvas's user ID, or Moodle's ID number.
    sis_user_id, sis_login_id, section, idnumber : str
    """

    student_id: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    lms_user_id: str = ""
    sis_user_id: str = ""
    sis_login_id: str = ""
    section: str = ""
    idnumber: str = ""

    def to_dict(self):
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, d):
        return cls(**{k: str(d.get(k) or "") for k in cls.__dataclass_fields__})


@dataclass
class ImportReport:
    """What :func:`import_roster` did."""

    kind: str
    id_column: str
    entries: list = field(default_factory=list)
    added: list = field(default_factory=list)
    not_graded: list = field(default_factory=list)
    not_in_roster: list = field(default_factory=list)
    skipped_rows: list = field(default_factory=list)

    def text(self):
        lines = [f"roster ({self.kind}): {len(self.entries)} students, matched to nbgrader ids by "
                 f"'{self.id_column}'; {len(self.added)} added to the gradebook's student table"]
        if self.skipped_rows:
            lines.append(f"  skipped {len(self.skipped_rows)} rows that are not students: "
                         + "; ".join(self.skipped_rows[:5]))
        lines.append(f"  in the roster but not graded ({len(self.not_graded)}; exported with 0 points): "
                     + (", ".join(self.not_graded) or "none"))
        lines.append(f"  graded but not in the roster ({len(self.not_in_roster)}; exported without LMS "
                     "identity, which the LMS will reject or ignore: fix their ids or the roster): "
                     + (", ".join(self.not_in_roster) or "none"))
        return "\n".join(lines)


def roster_table(meta=None):
    from sqlalchemy import Column, MetaData, String, Table

    meta = meta or MetaData()
    return Table(ROSTER_TABLE, meta,
                 Column("student", String(128), primary_key=True),
                 *(Column(k, String(256)) for k in ("sis_user_id", "sis_login_id", "section",
                                                    "idnumber", "source")))


# --------------------------------------------------------------------------- reading
def _clean(v):
    return (v or "").strip()


def read(path):
    """``(kind, rows, skipped)`` of a Canvas or Moodle roster CSV; each row a dict of its columns."""
    path = Path(path)
    if not path.is_file():
        raise RosterError(f"{path} does not exist: export the roster from Canvas (Grades > Export) or "
                          "Moodle (Grades > Export > Plain text file) and pass its path")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RosterError(f"{path} is not UTF-8: export it again as UTF-8 (Moodle: encoding UTF-8; "
                          "Excel: 'CSV UTF-8')") from None
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(text.splitlines(), dialect=dialect)
    header = [h.strip() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    if "Student" in header and ("SIS Login ID" in header or "ID" in header):
        kind = "canvas"
    elif "Email address" in header or "ID number" in header:
        kind = "moodle"
    else:
        raise RosterError(f"{path}: neither a Canvas roster (columns Student, ID, SIS User ID, SIS Login "
                          "ID, Section) nor a Moodle one (First name, Last name, ID number, Email "
                          f"address); its columns are {header[:8]}")
    rows, skipped = [], []
    for row in reader:
        row = {k: _clean(v) for k, v in row.items() if k is not None}
        if kind == "canvas":
            name = row.get("Student", "")
            if not row.get("ID") and not row.get("SIS Login ID") and not row.get("SIS User ID"):
                skipped.append(name or "(empty row)")  # "Points Possible", posting-policy rows
                continue
            if name.lower() in ("student, test", "test student"):
                skipped.append(name)
                continue
        elif not any(row.values()):
            continue
        rows.append(row)
    return kind, rows, skipped


def _candidate(row, column):
    if column == "Email address (local part)":
        return row.get("Email address", "").split("@")[0]
    return row.get(column, "")


def choose_id_column(rows, known, forced=None):
    """The roster column whose values match the most known nbgrader ids (or ``forced``)."""
    if forced:
        if rows and forced not in rows[0] and forced != "Email address (local part)":
            raise RosterError(f"the roster has no column {forced!r}; its columns are {list(rows[0])}")
        return forced
    present = [c for c in ID_CANDIDATES
               if rows and (c in rows[0] or (c.endswith("(local part)") and "Email address" in rows[0]))]
    if not present:
        raise RosterError("the roster has no column that could hold the students' ids "
                          f"(one of {', '.join(ID_CANDIDATES[:-1])})")
    known_l = {k.lower() for k in known}
    return max(present, key=lambda c: (sum(_candidate(r, c).lower() in known_l for r in rows),
                                       -present.index(c)))


def entries(kind, rows, id_column, known=()):
    """:class:`Entry` per roster row (ids matched case-insensitively to ``known`` ids)."""
    by_lower = {k.lower(): k for k in known}
    out = []
    for row in rows:
        raw_id = _candidate(row, id_column)
        if not raw_id:
            continue
        sid = by_lower.get(raw_id.lower(), raw_id)
        if kind == "canvas":
            name = row.get("Student", "")
            last, _, first = name.partition(", ")
            out.append(Entry(sid, first_name=first.strip(), last_name=last.strip(),
                             email=row.get("Email", "") or row.get("Email address", ""),
                             lms_user_id=row.get("ID", ""), sis_user_id=row.get("SIS User ID", ""),
                             sis_login_id=row.get("SIS Login ID", ""), section=row.get("Section", "")))
        else:
            out.append(Entry(sid, first_name=row.get("First name", ""), last_name=row.get("Last name", ""),
                             email=row.get("Email address", ""),
                             lms_user_id=row.get("ID number", ""), idnumber=row.get("ID number", ""),
                             section=row.get("Groups", "") or row.get("Group", "")))
    return out


# --------------------------------------------------------------------------- recording
def import_roster(path, root=None, db_url=None, id_column=None):
    """Record the roster at ``path`` in the course's gradebook; return an :class:`ImportReport`."""
    from nbgrader.api import Gradebook, MissingEntry
    from sqlalchemy import delete

    stocknbgrader.venv_on_path()
    course = gradebook.load_course(root, db_url)
    gradebook.probe(course.db_url)
    kind, rows, skipped = read(path)
    with Gradebook(course.db_url, course.course_id) as gb:
        known = [s.id for s in gb.students]
        column = choose_id_column(rows, known, id_column)
        found = entries(kind, rows, column, known)
        dupes = sorted({e.student_id for e in found if [x.student_id for x in found].count(e.student_id) > 1})
        if dupes:
            raise RosterError(f"the roster matches several rows to the same id ({', '.join(dupes[:5])}) "
                              f"by '{column}': choose the id column with --id-column")
        report = ImportReport(kind, column, found, skipped_rows=skipped)
        table = roster_table()
        table.metadata.create_all(gb.engine)
        for e in found:
            if e.student_id not in known:
                report.added.append(e.student_id)
            fields = {k: v for k, v in (("first_name", e.first_name), ("last_name", e.last_name),
                                        ("email", e.email), ("lms_user_id", e.lms_user_id)) if v}
            gb.update_or_create_student(e.student_id, **fields)
        db = gb.db
        for e in found:
            db.execute(delete(table).where(table.c.student == e.student_id))
            db.execute(table.insert().values(student=e.student_id, sis_user_id=e.sis_user_id,
                                             sis_login_id=e.sis_login_id, section=e.section,
                                             idnumber=e.idnumber, source=kind))
        db.commit()
        in_roster = {e.student_id for e in found}
        graded = set()
        for s in gb.students:
            try:
                gb.find_submission(course.assignment, s.id)
                graded.add(s.id)
            except MissingEntry:
                pass
        report.not_graded = sorted(in_roster - graded)
        report.not_in_roster = sorted(graded - in_roster)
        db.rollback()
    return report


def identities(gb):
    """``{student id: Entry}`` of every student of a gradebook, with what the roster recorded."""
    from sqlalchemy import inspect, select

    extra = {}
    if inspect(gb.engine).has_table(ROSTER_TABLE):
        t = roster_table()
        extra = {r.student: r._asdict() for r in gb.db.execute(select(t))}
    out = {}
    for s in gb.students:
        x = extra.get(s.id, {})
        out[s.id] = Entry(s.id, first_name=s.first_name or "", last_name=s.last_name or "",
                          email=s.email or "", lms_user_id=s.lms_user_id or "",
                          sis_user_id=x.get("sis_user_id") or "", sis_login_id=x.get("sis_login_id") or "",
                          section=x.get("section") or "", idnumber=x.get("idnumber") or "")
    return out


def main(args):
    try:
        report = import_roster(args.file, args.root, args.db_url, args.id_column)
    except (RosterError, gradebook.CourseError) as exc:
        print(f"roster: {exc}")
        return 2
    print(report.text())
    return 0


def add_arguments(p):
    p.add_argument("file", help="roster CSV exported from Canvas or Moodle")
    p.add_argument("--root", help="course directory (default: RNNCOURSE_ROOT, else this package's course)")
    p.add_argument("--db-url", help="gradebook URL (default: the course's)")
    p.add_argument("--id-column", help="roster column holding the nbgrader student ids (default: the "
                   f"one matching most known ids among {', '.join(ID_CANDIDATES)})")
