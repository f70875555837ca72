"""rnncourse.run.cpu_time: the CPU time of a process tree."""

import os
import subprocess
import sys
import time

from rnncourse.run.cpu_time import forked_cpu, tree_cpu

BURN = "import time\nend = time.process_time() + 0.6\nwhile time.process_time() < end: pass\n"


def test_tree_cpu_counts_the_children_of_the_root():
    # A parent that sleeps, with a child that burns CPU and then waits: the tree's CPU is the child's.
    code = f"import subprocess, sys, time\nsubprocess.run([sys.executable, '-c', {BURN!r}])\ntime.sleep(30)\n"
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 20
        while tree_cpu(proc.pid) < 0.5 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert tree_cpu(proc.pid) >= 0.5  # the reaped child's CPU is in the parent's cutime
    finally:
        proc.kill()
        proc.wait()


def test_a_process_that_is_gone_counts_nothing():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert tree_cpu(proc.pid) == 0.0
    assert tree_cpu(os.getpid()) > 0.0


def test_no_fork_server_no_forked_cpu(monkeypatch):
    from rnncourse import sandbox

    monkeypatch.setattr(sandbox, "fork_server_pid", lambda: None)
    assert forked_cpu() is None
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    monkeypatch.setattr(sandbox, "fork_server_pid", lambda: gone.pid)
    assert forked_cpu() == 0.0
