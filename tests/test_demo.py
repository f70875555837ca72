"""``make demo`` grades its sample class in a course of its own (demo/), never in the course."""

import os
import subprocess

import pytest

from rnncourse import ASSIGNMENT, stocknbgrader
from rnncourse.authoring import demo, scratchcourse

pytestmark = [pytest.mark.slow]

NBGRADER = stocknbgrader.nbgrader_bin()
CLASS = {"correct": [], "bias_forgotten": [("rnn_cell_forward", "bias_forgotten")]}
COURSE_OUTPUTS = ("submitted", "autograded", "feedback", "gradebook.db", "grades.csv")


@pytest.fixture(scope="module")
def course(tmp_path_factory, root):
    """A scratch clone of the course, and the demo run in it (as `make demo` does)."""
    tmp = tmp_path_factory.mktemp("democourse")
    scratchcourse.copy_course(tmp, ("source", "release"), root)
    old = os.environ.get("RNNCOURSE_ROOT")
    os.environ["RNNCOURSE_ROOT"] = str(tmp)
    try:
        demo_root = demo.run(CLASS, timeout=10)
    finally:
        if old is None:
            os.environ.pop("RNNCOURSE_ROOT")
        else:
            os.environ["RNNCOURSE_ROOT"] = old
    return tmp, demo_root


def test_demo_builds_and_grades_a_course_of_its_own(course):
    tmp, demo_root = course
    assert demo_root == tmp / "demo"
    for name in COURSE_OUTPUTS:
        assert not (tmp / name).exists(), f"the demo wrote {name} into the course"
        assert (demo_root / name).exists(), name
    for student in CLASS:
        assert (demo_root / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html").is_file()
    # its feedback was released into its own exchange, one page per student
    assert len(list((demo_root / "exchange").rglob("*.html"))) == len(CLASS)
    # and the class report names the mistake the sample class made, in the demo's course only
    assert not (tmp / "reports").exists(), "the demo wrote its report into the course"
    mistakes = (demo_root / "reports" / ASSIGNMENT / "mistakes.csv").read_text()
    assert "bias_forgotten" in mistakes
    assert (demo_root / "reports" / ASSIGNMENT / "index.html").is_file()


def test_release_feedback_works_in_the_demo_and_in_the_course(course, tmp_path):
    tmp, demo_root = course
    env = dict(os.environ)
    env.pop("RNNCOURSE_DB_URL", None)
    proc = subprocess.run([NBGRADER, "release_feedback", ASSIGNMENT], cwd=demo_root, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (tmp_path / "exchange").mkdir()
    proc = subprocess.run([NBGRADER, "release_feedback", ASSIGNMENT,
                           f"--Exchange.root={tmp_path / 'exchange'}"], cwd=tmp, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (tmp / "gradebook.db").unlink(missing_ok=True)


def test_every_declared_make_target_does_something(root):
    text = (root / "Makefile").read_text()
    phony = next(line for line in text.splitlines() if line.startswith(".PHONY:")).split()[1:]
    for target in phony:  # -n: print the commands only; -B: as if nothing were up to date
        proc = subprocess.run(["make", "-n", "-B", "-C", str(root), target],
                              capture_output=True, text=True)
        assert proc.returncode == 0, (target, proc.stderr)
        assert "Nothing to be done" not in proc.stdout + proc.stderr, f"make {target} does nothing"
        assert proc.stdout.strip(), f"make {target} does nothing"
