import os
import sys
from pathlib import Path

import pytest

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
