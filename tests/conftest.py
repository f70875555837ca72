import os
import sys
from pathlib import Path

import pytest
from xdist.scheduler import LoadFileScheduling

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
os.environ["PATH"] = str(VENV_BIN) + os.pathsep + os.environ.get("PATH", "")


@pytest.fixture(scope="session")
def root():
    return ROOT


@pytest.fixture(scope="session")
def ref():
    from rnncourse.content import reference

    return reference.load()


NEEDS_ROOT_OR_SERVICE = ("sandbox", "browser", "postgres", "hub")

SHARED_CLASS = ("test_graded_course", "test_feedback", "test_classreport", "test_runner",
                "test_symlinked_paths")
"""The files that read the session's graded sample class (``tests/gradedclass.py``)."""

LONGEST_FIRST = ("test_adversarial", "graded class", "test_hub", "test_stock_equal",
                 "test_browser_injection", "test_demo", "test_adversarial_sandbox", "test_worker")
"""Units that take a minute or more each, handed out first, so that the workers finish together."""


def unit_of(nodeid):
    """The unit of work a test belongs to in a parallel run: its file, or the shared class's files.

    A unit runs on one worker, so a file's module fixtures are built once, and the files that
    read the graded sample class share the one session fixture that grades it.
    """
    path = nodeid.split("::", 1)[0]
    return "graded class" if Path(path).stem in SHARED_CLASS else path


class FileUnits(LoadFileScheduling):
    """``--dist loadfile`` with the shared class's files as one unit, the longest units first."""

    def _split_scope(self, nodeid):
        return unit_of(nodeid)

    def _assign_work_unit(self, node):
        if not getattr(self, "_ordered", False):
            rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
            order = sorted(self.workqueue, key=lambda unit: rank.get(Path(unit).stem, len(rank)))
            for unit in order:
                self.workqueue.move_to_end(unit)
            self._ordered = True
        super()._assign_work_unit(node)


def pytest_xdist_make_scheduler(config, log):
    """``make test`` runs ``pytest -n 2 --dist loadfile``: files grouped by :func:`unit_of`."""
    if config.getvalue("dist") == "loadfile":
        return FileUnits(config, log)
    return None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI (``CI=true``) a skipped test that needs root or a service fails.

    Outside CI a test marked ``sandbox``, ``browser``, ``postgres`` or ``hub`` may skip when the
    machine lacks what it needs (root, confinement, chromium, a database server) and says why;
    CI installs and starts all of it, so there the reason is a fault of the set-up.
    """
    outcome = yield
    report = outcome.get_result()
    if (report.skipped and os.environ.get("CI") == "true" and not hasattr(report, "wasxfail")
            and any(item.get_closest_marker(m) for m in NEEDS_ROOT_OR_SERVICE)):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, where tests needing root or a service must run: {reason}"


@pytest.fixture(scope="session")
def graded_seed(tmp_path_factory):
    """The shared sample class (``tests/gradedclass.py``) submitted in a scratch course."""
    import gradedclass

    return gradedclass.make_seed(tmp_path_factory.mktemp("graded-class") / "seed")


@pytest.fixture(scope="session")
def stock_graded(graded_seed):
    """The shared class graded by stock nbgrader, with feedback and grades.csv (read only)."""
    import gradedclass

    return gradedclass.grade_stock(graded_seed, graded_seed.parent / "stock")


@pytest.fixture(scope="session")
def ours_graded(graded_seed):
    """The shared class graded by ``make grade`` (confined), with feedback (read only)."""
    import gradedclass

    from rnncourse import sandbox

    if not sandbox.available()[0] and os.environ.get("CI") != "true":
        pytest.skip("confinement is not available on this machine")
    return gradedclass.grade_ours(graded_seed, graded_seed.parent / "ours")
