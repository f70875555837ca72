"""A ``make grade`` run killed with SIGKILL half way is finished by the next run.

Kill the coordinator as soon as some students are recorded; then: no process
of the run is left, the next run grades exactly the others (the recorded ones
are skipped, unchanged), nothing is lost or counted twice; a changed
submission is regraded; ``--force`` regrades what it is given. About 55 s.
"""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import nbformat
import pytest

from rnncourse import ASSIGNMENT
from rnncourse.authoring import bench, sampleclass
from rnncourse.client import testcases
from rnncourse.run import gradebook

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

CLASS = {
    "ann": [],
    "bob": [("lstm_forward", "c0_not_zeros")],
    "cyd": [("rnn_cell_backward", "waa_not_transposed")],
    "dee": [],
}


def recorded(root, recover=False):
    """``{student: (fingerprint, graded_at)}`` of the status rows recorded so far.

    While the run is alive the gradebook is read read-only (never disturbing it). After the
    kill, ``recover=True`` opens it as the next run will, read-write, so that SQLite rolls
    back a transaction the kill cut off (a hot journal a read-only connection cannot undo).
    """
    mode = "rw" if recover else "ro"
    try:
        con = sqlite3.connect(f"file:{root / 'gradebook.db'}?mode={mode}", uri=True, timeout=5)
        try:
            rows = con.execute("SELECT student, fingerprint, graded_at FROM rnncourse_grading").fetchall()
        finally:
            con.close()
    except sqlite3.Error:
        return {}
    return {s: (fp, at) for s, fp, at in rows}


def descendants(pid):
    """Pids of every process below ``pid`` (from /proc)."""
    children = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(name))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def grade(root, *args):
    env = dict(os.environ)
    env.pop("RNNCOURSE_DB_URL", None)
    return subprocess.run([sys.executable, "-m", "rnncourse.cli", "grade", "--root", str(root),
                           "--no-progress", "--workers", "2", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def killed(tmp_path_factory):
    """A run killed with SIGKILL once 1 to 3 of the 4 students are recorded."""
    root = bench.make_course(tmp_path_factory.mktemp("resume") / "course", CLASS)
    env = dict(os.environ)
    env.pop("RNNCOURSE_DB_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "rnncourse.cli", "grade", "--root", str(root),
                             "--no-progress", "--workers", "2"], cwd=root, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    family = set()
    while time.monotonic() < deadline and proc.poll() is None:
        family |= set(descendants(proc.pid))
        if 1 <= len(recorded(root)) < len(CLASS):
            break
        time.sleep(0.1)
    assert proc.poll() is None, "the run ended before it could be killed"
    family |= set(descendants(proc.pid))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = recorded(root, recover=True)
    assert 1 <= len(before) < len(CLASS)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(alive(p) for p in family):
        time.sleep(0.2)
    return {"root": root, "before": before, "left": [p for p in family if alive(p)]}


def test_nothing_of_the_killed_run_keeps_running(killed):
    assert killed["left"] == []


def test_next_run_finishes_the_job_without_regrading(killed):
    root, before = killed["root"], killed["before"]
    proc = grade(root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    n_left = len(CLASS) - len(before)
    assert proc.stdout.startswith(f"graded {n_left}, failed 0, skipped as already graded {len(before)} ")
    after = recorded(root)
    assert set(after) == set(CLASS)
    assert {s: after[s] for s in before} == before  # kept as they were
    grades = gradebook.grades(f"sqlite:///{root / 'gradebook.db'}")
    assert set(grades) == set(CLASS)
    for per_cell in grades.values():
        assert len(per_cell) == len(testcases.POINTS), per_cell  # one grade per cell, none doubled
    con = sqlite3.connect(f"file:{root / 'gradebook.db'}?mode=ro", uri=True)
    try:
        subs = dict(con.execute("SELECT student_id, COUNT(*) FROM submitted_assignment GROUP BY student_id"))
    finally:
        con.close()
    assert subs == {s: 1 for s in CLASS}
    full = sum(testcases.POINTS.values())
    assert sum(grades["ann"].values()) == full and sum(grades["dee"].values()) == full
    assert grades["bob"]["lstm_forward_hidden"] < testcases.POINTS["lstm_forward"]
    assert not list((root / "autograded").glob(f"*/.{ASSIGNMENT}.*"))  # no half-written folder


def test_changed_submission_is_regraded_and_force_regrades_all(killed):
    root = killed["root"]
    if len(recorded(root)) < len(CLASS):  # independent of test order
        assert grade(root).returncode == 0
    path = root / "submitted" / "dee" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    release_nb = json.loads((root / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text())
    nbformat.write(sampleclass.fill(release_nb, sampleclass.student_sources(
        [("rnn_cell_forward", "waa_transposed")])), str(path))
    before = recorded(root)
    proc = grade(root)
    assert proc.stdout.startswith("graded 1, failed 0, skipped as already graded 3 "), proc.stdout
    after = recorded(root)
    assert after["dee"] != before["dee"]
    assert {s: after[s] for s in ("ann", "bob", "cyd")} == {s: before[s] for s in ("ann", "bob", "cyd")}
    grades = gradebook.grades(f"sqlite:///{root / 'gradebook.db'}")
    assert grades["dee"]["rnn_cell_forward_hidden"] < testcases.POINTS["rnn_cell_forward"]
    proc = grade(root, "--force", "--student", "ann", "--student", "dee")
    assert proc.stdout.startswith("graded 2, failed 0, skipped as already graded 0 "), proc.stdout
    again = recorded(root)
    assert [s for s in CLASS if again[s][1] != after[s][1]] == ["ann", "dee"]
    assert gradebook.grades(f"sqlite:///{root / 'gradebook.db'}") == grades
