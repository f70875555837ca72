"""The re-check's own parts (``rnncourse.verdicts.recheck``); whole re-checks run in test_worker and
test_adversarial_sandbox."""

import os
import subprocess
import sys
import time

import pytest

from rnncourse.verdicts import recheck


def _child(seconds):
    return subprocess.Popen([sys.executable, "-c", f"import time; time.sleep({seconds})"])


def test_the_wait_ends_when_the_driver_exits_not_at_its_timeout():
    """A driver that exits is seen at its exit (not a measure of speed)."""
    proc = _child(0.2)
    with recheck._ExitWatch(proc) as watch:
        start = time.monotonic()
        watch.wait(120)
        waited = time.monotonic() - start
    assert proc.poll() == 0
    assert waited < 60  # woken by the exit: a wait that ran to its timeout would take 120 s


def test_a_running_driver_is_waited_for_at_most_the_timeout():
    proc = _child(60)
    try:
        with recheck._ExitWatch(proc) as watch:
            watch.wait(0.01)
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()


def test_the_watch_closes_its_pidfd():
    proc = _child(0)
    with recheck._ExitWatch(proc) as watch:
        fd = watch.fd
    proc.wait()
    with pytest.raises(OSError):
        os.fstat(fd)
