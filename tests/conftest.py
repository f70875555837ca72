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
