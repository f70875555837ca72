"""What ``make grade`` tells the instructor: the class's scores, one-line gradebook errors, honest help."""

import subprocess
import sys

import pytest

from rnncourse import FUNCTIONS
from rnncourse.client import testcases
from rnncourse.run import gradetable

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent


def grades(totals):
    """``{student: {grade_id: score}}`` where each student has ``frac`` of every function's points."""
    return {s: {f"{fn}_hidden": frac * testcases.POINTS[fn] for fn in FUNCTIONS}
            for s, frac in totals.items()}


def test_the_table_shows_every_student_and_function():
    out = gradetable.text(grades({"alice": 1.0, "bob": 0.5, "carol": 0.0}), "/course/grades.csv")
    lines = out.splitlines()
    assert lines[0] == "Scores per student and function (3 students):"
    assert "rnn_cell_fw" in lines[1] and "lstm_bw" in lines[1] and lines[1].endswith("total")
    bob = next(ln for ln in lines if ln.startswith("bob"))
    assert bob.split()[1:] == [f"{testcases.POINTS[fn] / 2:g}" for fn in FUNCTIONS] + ["50"]
    assert any(ln.startswith("full marks") and ln.split()[-1] == "1/3" for ln in lines)
    assert "grades.csv: /course/grades.csv" in out


def test_a_large_class_gets_a_compact_summary():
    out = gradetable.text(grades({f"s{i:03d}": (i % 3) / 2 for i in range(300)}), "g.csv")
    assert len(out.splitlines()) < 12
    assert "300 students" in out and "s001" not in out
    assert "median" in out and "g.csv" in out


@pytest.mark.parametrize("url, words", [
    ("postgresql://nobody:secret@127.0.0.1:1/db", "cannot connect to the gradebook"),
    ("sqlite:////nonexistent-dir/sub/gb.db", "folder exists"),
    ("not a url", "is not a database URL"),
])
def test_an_unusable_db_url_is_one_line_saying_what_to_check(url, words):
    proc = subprocess.run([sys.executable, "-m", "rnncourse.cli", "grade", "--root", str(ROOT),
                           "--no-progress", "--db-url", url], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    err = proc.stderr.strip()
    assert len(err.splitlines()) == 1, err
    assert words in err and "Traceback" not in err
    assert "secret" not in err  # the password is never printed


def test_no_figures_help_makes_no_speed_promise():
    proc = subprocess.run([sys.executable, "-m", "rnncourse.cli", "grade", "--help"], capture_output=True,
                          text=True, timeout=60)
    text = " ".join(proc.stdout.split())
    assert "--no-figures" in text and "twice as fast" not in text


def test_the_grade_command_imports_nbgrader_only_once_the_run_has_begun():
    """Building the CLI and importing the runner import neither nbgrader nor nbformat.

    A run starts its fork server first and imports them while the server
    imports its own modules on another core (docs/speed.md); an import at the
    top of the CLI or the runner would put that half second back in series.
    """
    code = ("import sys, contextlib, io\n"
            "import rnncourse.cli, rnncourse.run.runner, rnncourse.run.command\n"
            "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
            "    rnncourse.cli.main(['grade', '--help'])\n"
            "heavy = ('nbgrader', 'nbformat', 'nbclient', 'sqlalchemy')\n"
            "print(sorted(m for m in heavy if m in sys.modules))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
