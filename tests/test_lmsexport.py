"""``make export LMS=canvas|moodle|csv`` (nbgrader export plugins) and ``make roster``, against the
formats as documented: Canvas's gradebook import CSV, Moodle's CSV grade import, nbgrader's CSV.

The gradebook is filled through nbgrader's API (no grading needed): students whose names hold
commas, apostrophes and non-ASCII letters, one without a submission.
"""

import csv
import io
import subprocess
from pathlib import Path

import pytest

from rnncourse import ASSIGNMENT, FUNCTIONS, stocknbgrader
from rnncourse.authoring import bench
from rnncourse.client import testcases
from rnncourse.reports import roster
from rnncourse.run import gradebook

pytestmark = [pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
NBGRADER = stocknbgrader.nbgrader_bin()
STUDENTS = {  # id -> (first, last, email, per-function fraction of the points)
    "jdoe": ("Jane", "Doe", "jane.doe@example.edu", 1.0),
    "zmuller": ("Zoë", "Müller-Lüdenscheidt", "zoe@example.edu", 0.5),
    "sobrien": ("Seán", "O'Brien, Jr.", "sean@example.edu", 0.0),
    "nthi": ("Thị", "Nguyễn", "", 1.0),
    "absent": ("Al", "Absent", "al@example.edu", None),  # no submission
}


def expected(sid):
    frac = STUDENTS[sid][3]
    return {fn: (frac or 0.0) * testcases.POINTS[fn] for fn in FUNCTIONS}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    from nbgrader.api import Gradebook

    root = bench.make_course(tmp_path_factory.mktemp("lms") / "course", {})
    c = gradebook.load_course(root)
    with Gradebook(c.db_url, c.course_id) as gb:
        for sid, (first, last, email, frac) in STUDENTS.items():
            gb.add_student(sid, first_name=first, last_name=last, email=email or None)
            if frac is None:
                continue
            gb.add_submission(ASSIGNMENT, sid)
            nb = gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, sid)
            for g in nb.grades:
                fn = g.cell.name[: -len("_hidden")]
                g.auto_score = expected(sid)[fn] if fn in FUNCTIONS else 0.0
            gb.db.commit()
    return root


def nbgrader_export(root, exporter, to, *args):
    proc = subprocess.run([NBGRADER, "export", "--exporter", f"rnncourse.reports.lmsexport.{exporter}",
                           "--to", to, *args], cwd=root, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    raw = (root / to).read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf"), "no byte-order mark"
    return raw.decode("utf-8"), proc


def export(root, exporter, to, **traits):
    """The plugin run in this process, as ``nbgrader export`` runs it (faster than a subprocess)."""
    from nbgrader.api import Gradebook

    from rnncourse.reports import lmsexport

    plugin = getattr(lmsexport, exporter)(to=str(root / to), **traits)
    c = gradebook.load_course(root)
    with Gradebook(c.db_url, c.course_id) as gb:
        plugin.export(gb)
    raw = (root / to).read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf"), "no byte-order mark"
    return raw.decode("utf-8")


def rows_of(text):
    return list(csv.reader(io.StringIO(text)))


def test_canvas_gradebook_import_columns(course):
    text, _ = nbgrader_export(course, "CanvasExport", "grades-canvas.csv")
    rows = rows_of(text)
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", ASSIGNMENT]
    assert rows[1] == ["Points Possible", "", "", "", "", "100"]
    by_login = {r[3]: r for r in rows[2:]}
    assert set(by_login) == set(STUDENTS)
    assert by_login["sobrien"][0] == "O'Brien, Jr., Seán"  # "Last, First", one field
    assert '"O\'Brien, Jr., Seán"' in text and '"Müller-Lüdenscheidt, Zoë"' in text
    assert by_login["nthi"][0] == "Nguyễn, Thị"
    assert by_login["jdoe"][5] == "100" and by_login["zmuller"][5] == "50"
    assert by_login["absent"][5] == "0"  # no submission: 0, as nbgrader's own export
    assert text.endswith("\r\n")


def test_canvas_one_column_per_function(course):
    text = export(course, "CanvasExport", "canvas-fn.csv", per_function=True)
    rows = rows_of(text)
    assert rows[0][6:] == [f"{ASSIGNMENT}: {fn}" for fn in FUNCTIONS]
    assert rows[1][6:] == [str(testcases.POINTS[fn]) for fn in FUNCTIONS]
    for r in rows[2:]:
        assert sum(float(v) for v in r[6:]) == pytest.approx(float(r[5]))
    z = next(r for r in rows if r[3] == "zmuller")
    assert z[6:] == [f"{testcases.POINTS[fn] / 2:g}" for fn in FUNCTIONS]


def test_moodle_grade_import_by_email_or_id_number(course, capsys):
    text = export(course, "MoodleExport", "grades-moodle.csv")
    err = capsys.readouterr().err
    rows = rows_of(text)
    assert rows[0] == ["Email address", "ID number", "First name", "Last name", ASSIGNMENT]
    by_email = {r[0]: r for r in rows[1:]}
    assert by_email["sean@example.edu"][2:] == ["Seán", "O'Brien, Jr.", "0"]
    assert by_email["al@example.edu"][4] == "0"
    assert "nthi" in err and "no email" in err  # told, not dropped
    assert len(rows) == 1 + len(STUDENTS)
    text = export(course, "MoodleExport", "moodle-id.csv", key="idnumber")
    assert rows_of(text)[0][:2] == ["ID number", "Email address"]


def test_csv_is_nbgrader_s_own_with_a_column_per_function(course):
    ours, _ = nbgrader_export(course, "FunctionsCsvExport", "grades-fn.csv")  # nbgrader's command line
    rows = list(csv.DictReader(io.StringIO(ours)))
    theirs = subprocess.run([NBGRADER, "export", "--to", "stock.csv"], cwd=course,
                            capture_output=True, text=True, timeout=300)
    assert theirs.returncode == 0, theirs.stderr
    stock_head = (course / "stock.csv").read_text(encoding="utf-8").splitlines()[0].split(",")
    assert list(rows[0])[: len(stock_head)] == stock_head
    assert list(rows[0])[len(stock_head):] == list(FUNCTIONS)
    by_id = {r["student_id"]: r for r in rows}
    assert by_id["sobrien"]["last_name"] == "O'Brien, Jr."  # nbgrader's own export splits this field
    for sid in STUDENTS:
        assert {fn: float(by_id[sid][fn]) for fn in FUNCTIONS} == expected(sid)
        assert float(by_id[sid]["score"]) == pytest.approx(sum(expected(sid).values()))


CANVAS_ROSTER = """Student,ID,SIS User ID,SIS Login ID,Section,RNN and LSTM (1234),Current Score
    Points Possible,,,,,100.00,(read only)
"Doe, Jane",101,S-001,JDoe,"Section A, Monday",,
"Müller-Lüdenscheidt, Zoë",102,S-002,zmuller,Section B,,
"Newcomer, Nia",105,S-005,nnew,Section B,,
"Student, Test",999,,,,,
"""

MOODLE_ROSTER = """First name,Last name,ID number,Institution,Department,Email address,Last downloaded
Jane,Doe,7001,Uni,CS,jdoe@example.edu,
Seán,"O'Brien, Jr.",7003,Uni,CS,sobrien@example.edu,
"""


def roster_cli(root, path, *args):
    """``python -m rnncourse.cli roster`` in this process: ``(exit status, stdout)``."""
    from contextlib import redirect_stdout

    from rnncourse import cli

    out = io.StringIO()
    with redirect_stdout(out):
        code = cli.main(["roster", str(path), "--root", str(root), *args])
    return code, out.getvalue()


def test_roster_from_canvas_then_canvas_export(course, tmp_path):
    path = tmp_path / "canvas-roster.csv"
    path.write_text(CANVAS_ROSTER, encoding="utf-8")
    code, out = roster_cli(course, path)
    assert code == 0, out
    assert "'SIS Login ID'" in out
    assert "in the roster but not graded (1; exported with 0 points): nnew" in out
    assert "graded but not in the roster (2; " in out and "nthi, sobrien" in out
    assert "Points Possible" in out and "Student, Test" in out  # skipped, and said so
    text = export(course, "CanvasExport", "grades-canvas.csv")
    by_login = {r[3]: r for r in rows_of(text)[2:]}
    assert by_login["JDoe"][:5] == ["Doe, Jane", "101", "S-001", "JDoe", "Section A, Monday"]
    assert by_login["nnew"][1] == "105" and by_login["nnew"][5] == "0"


def test_roster_from_moodle_matches_by_email_local_part(course, tmp_path):
    path = tmp_path / "moodle.csv"
    path.write_text(MOODLE_ROSTER, encoding="utf-8")
    code, out = roster_cli(course, path)
    assert code == 0, out
    assert "'Email address (local part)'" in out
    text = export(course, "MoodleExport", "m.csv", key="idnumber")
    rows = {r[1]: r for r in rows_of(text)[1:]}
    assert rows["sobrien@example.edu"][0] == "7003"


def test_a_bad_roster_says_what_is_wrong(course, tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("name,points\nx,1\n", encoding="utf-8")
    assert roster_cli(course, path)[0] == 2 and "neither a Canvas roster" in roster_cli(course, path)[1]
    code, out = roster_cli(course, tmp_path / "missing.csv")
    assert code == 2 and "does not exist" in out
    path.write_bytes("Student,ID,SIS Login ID\n\"M\xfcller, Z\",1,z\n".encode("latin-1"))
    code, out = roster_cli(course, path)
    assert code == 2 and "not UTF-8" in out


def test_make_export_names_the_lms(course):
    proc = subprocess.run(["make", "-s", "export", "LMS=blackboard", f"RNNCOURSE_ROOT={course}"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and "LMS must be canvas, moodle or csv" in proc.stderr
    proc = subprocess.run(["make", "-s", "export", "LMS=canvas", f"RNNCOURSE_ROOT={course}"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert rows_of((course / "grades-canvas.csv").read_text(encoding="utf-8"))[1][0] == "Points Possible"


def test_identities_keep_every_student(course):
    from nbgrader.api import Gradebook

    c = gradebook.load_course(course)
    with Gradebook(c.db_url, c.course_id) as gb:
        ids = roster.identities(gb)
    assert set(STUDENTS) <= set(ids)
