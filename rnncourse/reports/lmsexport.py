"""nbgrader export plugins for the LMS: ``nbgrader export --exporter rnncourse.reports.lmsexport.<Class>``.

* :class:`CanvasExport` -> ``grades-canvas.csv``: Canvas's gradebook import file
  (``Student, ID, SIS User ID, SIS Login ID, Section``, then one column per
  assignment, optionally one per function, and a ``Points Possible`` row).
* :class:`MoodleExport` -> ``grades-moodle.csv``: Moodle's CSV grade import,
  keyed by email address or ID number (``MoodleExport.key``).
* :class:`FunctionsCsvExport` -> ``grades.csv``: nbgrader's own CSV columns with a
  column per function added.

``make export LMS=canvas|moodle|csv`` runs them. Identities come from nbgrader's
student table and ``rnncourse_roster`` (``make roster``). A student without a
submission gets 0, as in nbgrader's own export: see ``docs/lms.md`` for why.
Files are UTF-8 without a byte-order mark, quoted where needed (a name with a
comma is one field).
"""

import csv
import sys

from nbgrader.api import MissingEntry
from nbgrader.plugins import ExportPlugin
from traitlets import Bool, Dict, Unicode

from rnncourse import ASSIGNMENT, FUNCTIONS
from rnncourse.client import testcases


def _num(x):
    """A score as the LMS reads it: no trailing zeros, never an exponent."""
    x = round(float(x), 4)
    return f"{x:.4f}".rstrip("0").rstrip(".") if x != int(x) else str(int(x))


def _function_points(submission):
    """``{fn: points}`` of one submission's hidden tests."""
    out = dict.fromkeys(FUNCTIONS, 0.0)
    for nb in submission.notebooks:
        for g in nb.grades:
            name = g.cell.name
            if name.endswith("_hidden") and name[: -len("_hidden")] in out:
                out[name[: -len("_hidden")]] += float(g.score or 0.0)
    return out


class _Base(ExportPlugin):
    """What the three exporters share: which students and assignments, and their scores."""

    per_function = Bool(False, help="add one column per graded function of the course's "
                        "assignment").tag(config=True)
    default_to = "grades.csv"

    def _students(self, gradebook):
        wanted = {str(s) for s in self.student}
        return [s for s in sorted(gradebook.students, key=lambda s: s.id)
                if not wanted or s.id in wanted]

    def _assignments(self, gradebook):
        wanted = {str(a) for a in self.assignment}
        return [a for a in gradebook.assignments if not wanted or a.name in wanted]

    def scores(self, gradebook, assignment, student_id):
        """``(score or None, {fn: points} or None, submission or None)``; None when not submitted."""
        try:
            sub = gradebook.find_submission(assignment.name, student_id)
        except MissingEntry:
            return None, None, None
        penalty = sub.late_submission_penalty or 0.0
        per_fn = _function_points(sub) if assignment.name == ASSIGNMENT else None
        return max(0.0, float(sub.score or 0.0) - penalty), per_fn, sub

    def destination(self):
        return self.to or self.default_to

    def write(self, rows):
        dest = self.destination()
        with open(dest, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
            w.writerows(rows)
        self.log.info("Exported grades to %s", dest)
        return dest

    def identities(self, gradebook):
        from rnncourse.reports import roster

        return roster.identities(gradebook)

    def warn(self, text):
        print(f"export: {text}", file=sys.stderr)

    def _grade_cells(self, gradebook, assignments, student_id):
        """A student's grade columns: each assignment's score, then one per function if asked (0 if none)."""
        cells = []
        for a in assignments:
            score, per_fn, _ = self.scores(gradebook, a, student_id)
            cells.append(_num(score or 0.0))
            if self.per_function and a.name == ASSIGNMENT:
                cells += [_num((per_fn or {}).get(fn, 0.0)) for fn in FUNCTIONS]
        return cells


class CanvasExport(_Base):
    """Canvas's gradebook import CSV."""

    default_to = "grades-canvas.csv"
    columns = Dict({}, help="column title per assignment name, e.g. {'rnn_lstm': 'RNN and LSTM "
                   "(123456)'}: Canvas matches an existing assignment by 'Name (assignment id)' and "
                   "creates a new assignment for a title it does not know").tag(config=True)

    def export(self, gradebook):
        assignments = self._assignments(gradebook)
        people = self.identities(gradebook)
        head = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
        points = ["Points Possible", "", "", "", ""]
        for a in assignments:
            title = self.columns.get(a.name, a.name)
            head.append(title)
            points.append(_num(a.max_score))
            if self.per_function and a.name == ASSIGNMENT:
                head += [f"{title}: {fn}" for fn in FUNCTIONS]
                points += [_num(testcases.POINTS[fn]) for fn in FUNCTIONS]
        rows = [head, points]
        unidentified = []
        for s in self._students(gradebook):
            p = people[s.id]
            name = ", ".join(x for x in (p.last_name, p.first_name) if x) or s.id
            if not p.lms_user_id and not p.sis_user_id and not p.sis_login_id:
                unidentified.append(s.id)
            row = [name, p.lms_user_id, p.sis_user_id, p.sis_login_id or s.id, p.section]
            rows.append(row + self._grade_cells(gradebook, assignments, s.id))
        if unidentified:
            self.warn(f"{len(unidentified)} students have no Canvas ID (import the roster with make "
                      f"roster): their SIS Login ID is their nbgrader id: {', '.join(unidentified[:10])}")
        return self.write(rows)


class MoodleExport(_Base):
    """Moodle's CSV grade import (Grades > Import > CSV file; map 'Email address' or 'ID number')."""

    default_to = "grades-moodle.csv"
    key = Unicode("email", help="the column Moodle identifies users by: 'email' (map from "
                  "'Email address' to useremail) or 'idnumber' (map from 'ID number' to "
                  "useridnumber)").tag(config=True)

    def export(self, gradebook):
        if self.key not in ("email", "idnumber"):
            raise ValueError(f"MoodleExport.key must be 'email' or 'idnumber', not {self.key!r}")
        assignments = self._assignments(gradebook)
        people = self.identities(gradebook)
        ident = ["Email address", "ID number"] if self.key == "email" else ["ID number", "Email address"]
        head = ident + ["First name", "Last name"]
        for a in assignments:
            head.append(a.name)
            if self.per_function and a.name == ASSIGNMENT:
                head += [f"{a.name}: {fn}" for fn in FUNCTIONS]
        rows = [head]
        unkeyed = []
        for s in self._students(gradebook):
            p = people[s.id]
            idnumber = p.idnumber or p.lms_user_id
            keyval = p.email if self.key == "email" else idnumber
            if not keyval:
                unkeyed.append(s.id)
            vals = {"Email address": p.email, "ID number": idnumber}
            row = [vals[c] for c in ident] + [p.first_name, p.last_name]
            rows.append(row + self._grade_cells(gradebook, assignments, s.id))
        if unkeyed:
            self.warn(f"{len(unkeyed)} students have no {'email' if self.key == 'email' else 'ID number'}"
                      f" (Moodle cannot match their rows; import the roster with make roster): "
                      f"{', '.join(unkeyed[:10])}")
        return self.write(rows)


class FunctionsCsvExport(_Base):
    """nbgrader's CSV export (same columns) with a column per function, correctly quoted."""

    default_to = "grades.csv"
    per_function = Bool(True, help="add one column per graded function").tag(config=True)
    KEYS = ("assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
            "raw_score", "late_submission_penalty", "score", "max_score")

    def export(self, gradebook):
        rows = [list(self.KEYS) + (list(FUNCTIONS) if self.per_function else [])]
        for a in self._assignments(gradebook):
            for s in self._students(gradebook):
                score, per_fn, sub = self.scores(gradebook, a, s.id)
                row = [a.name, a.duedate or "", (sub.timestamp if sub else "") or "", s.id,
                       s.last_name or "", s.first_name or "", s.email or "",
                       float(sub.score or 0.0) if sub else 0.0,
                       float(sub.late_submission_penalty or 0.0) if sub else 0.0,
                       score or 0.0, a.max_score]
                if self.per_function:
                    row += [(per_fn or {}).get(fn, 0.0) if a.name == ASSIGNMENT else "" for fn in FUNCTIONS]
                rows.append(row)
        return self.write(rows)


EXPORTERS = {"canvas": CanvasExport, "moodle": MoodleExport, "csv": FunctionsCsvExport}
