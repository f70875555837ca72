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
