"""Hostile and broken submissions graded by ``make grade`` next to a correct control student.

One scratch copy of the course, one ``make grade`` run over the whole
adversarial class (``tests/adversarial/testcases.py``; the cases run in parallel
on make grade's workers), then per case: no false credit, the honest parts
credited, the expected error or tampering flag; and for the class: the control
student's marks, the gradebook, ``source/``, ``release/`` and the reference
data intact, nothing leaked, no process left, no late strike.
"""

import pytest
from adversarial import cases as adv
from adversarial import inject
from adversarial.course import leaks, written_mib
from adversarial.ours import GRADE_TIMEOUT, grade_class

from rnncourse import FUNCTIONS, sandbox
from rnncourse.client import testcases

ok, why = sandbox.available()
pytestmark = [pytest.mark.skipif(not ok, reason=f"confinement unavailable: {why}"),
              pytest.mark.slow, pytest.mark.sandbox]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    return grade_class(tmp_path_factory.mktemp("adversarial"))


def test_the_run_finished(graded):
    assert graded["returncode"] is not None, "make grade did not finish:\n" + graded["output"][-3000:]
    assert graded["scores"] is not None, "the gradebook is gone"


def test_every_student_recorded_and_the_run_bounded(graded):
    """Exit status 0: nothing left to retry, whatever the submissions did (malformed messages to
    the judge, killed processes, shadowing files); and the class finished well within the
    harness's limit although one submission spins 62 processes (a CPU cgroup per sandbox)."""
    assert graded["returncode"] == 0, graded["output"][-3000:]
    assert graded["seconds"] < GRADE_TIMEOUT


def test_control_student_untouched(graded):
    assert graded["scores"]["control"] == {fn: float(testcases.POINTS[fn]) for fn in FUNCTIONS}
    status = graded["status"].get("control", {})
    assert not status.get("error") and not status.get("flags"), status


def test_instructor_files_intact(graded):
    assert graded["changed"] == [], f"changed by grading: {graded['changed']}"
    assert not graded["marker"], "an attack wrote outside its sandbox"


def test_nothing_left_running(graded):
    assert graded["leftover"] == []


def test_every_student_has_a_result(graded):
    for case in graded["cases"]:
        student = f"adv_{case.name}"
        assert student in graded["status"], f"{student} has no recorded outcome"
        if not case.error:
            assert graded["autograded"][student] is not None, f"{student} has no autograded notebook"
    assert graded["autograded"]["control"] is not None


@pytest.mark.parametrize("case", adv.CASES, ids=[c.name for c in adv.CASES])
def test_case(graded, case):
    student = f"adv_{case.name}"
    got = (graded["scores"] or {}).get(student, {fn: 0.0 for fn in FUNCTIONS})
    status = graded["status"].get(student, {})
    for fn in FUNCTIONS:
        assert got[fn] <= case.max_points[fn], f"false credit for {fn}: {got[fn]} ({status})"
        assert got[fn] >= case.min_points[fn], f"honest {fn} not credited: {got[fn]} ({status})"
    if case.error:
        assert status.get("error"), f"no error recorded for {student}: {status}"
    if case.flagged:
        assert any("tamper" in f for f in status.get("flags", [])), f"not flagged: {status}"
    text = graded["autograded"].get(student) or ""
    assert leaks(text) == [], "instructor data was readable"
    if case.max_written_mib is not None:
        wrote = written_mib(text)
        assert wrote is not None and wrote <= case.max_written_mib, f"wrote {wrote} MiB"
    assert len(text) < 8 * 1024 ** 2, "output flood kept"
    if case.inert:
        assert inject.active_content(text) == [], "active content kept in the autograded notebook"
        assert inject.HONEST_TEXT in text and inject.TABLE_CELL in text, "honest output lost"
        assert '"image/png"' in text, "the honest plot was lost"
