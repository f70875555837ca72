"""``make grade SCHEDULER=...``: every submission is a task on a real Dask cluster.

The test starts a scheduler and two workers as processes on 127.0.0.1 (no
nanny, one thread each), grades a small class through them, and checks the
scores, that both workers did the work, and that the coordinator alone wrote
the gradebook. About 30 s.
"""

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rnncourse.authoring import bench
from rnncourse.client import testcases
from rnncourse.run import gradebook

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

CLASS = {
    "correct": [],
    "mistake": [("lstm_cell_forward", "concat_order")],
    "blank": None,
    "also_correct": [],
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and two single-threaded workers; yields (address, {worker pid})."""
    dask = str(Path(sys.executable).with_name("dask"))
    log = tmp_path_factory.mktemp("dask")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = dict(os.environ)
    env.pop("RNNCOURSE_DB_URL", None)
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], stdout=open(log / "scheduler.log", "w"),
                              stderr=subprocess.STDOUT, env=env)]
    try:
        for i in range(2):
            procs.append(subprocess.Popen(
                [dask, "worker", address, "--host", "127.0.0.1", "--nthreads", "1", "--no-nanny",
                 "--no-dashboard", "--name", f"w{i}", "--local-directory", str(log / f"w{i}")],
                stdout=open(log / f"worker{i}.log", "w"), stderr=subprocess.STDOUT, env=env))
        from distributed import Client

        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
        yield address, {p.pid for p in procs[1:]}
    finally:
        for p in procs[1:]:  # workers first; a worker's kernels die with it (their sandbox watches it)
            p.kill()
        procs[0].terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def test_class_graded_on_the_cluster(cluster, tmp_path):
    address, worker_pids = cluster
    root = bench.make_course(tmp_path / "course", CLASS)
    env = dict(os.environ)
    env.pop("RNNCOURSE_DB_URL", None)
    t = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "rnncourse.cli", "grade", "--root", str(root),
                           "--scheduler", address, "--no-progress"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert proc.stdout.startswith(f"graded {len(CLASS)}, failed 0, skipped as already graded 0 "), proc.stdout
    assert address in proc.stdout
    grades = gradebook.grades(f"sqlite:///{root / 'gradebook.db'}")
    totals = {s: sum(v.values()) for s, v in grades.items()}
    full = sum(testcases.POINTS.values())
    assert totals == {"correct": full, "also_correct": full, "blank": 0.0,
                      "mistake": totals["mistake"]}
    assert grades["mistake"]["lstm_cell_forward_hidden"] < testcases.POINTS["lstm_cell_forward"]
    assert full - totals["mistake"] == testcases.POINTS["lstm_cell_forward"] - grades["mistake"][
        "lstm_cell_forward_hidden"]
    con = sqlite3.connect(f"file:{root / 'gradebook.db'}?mode=ro", uri=True)
    try:
        details = [json.loads(d) for (d,) in con.execute("SELECT details FROM rnncourse_grading")]
    finally:
        con.close()
    used = {int(d["_worker"].rsplit(":", 1)[1]) for d in details}
    assert used == worker_pids, (used, worker_pids)  # each Dask worker graded some of the class
    assert (root / "autograded" / "mistake" / "rnn_lstm" / "rnn_lstm.ipynb").exists()
    assert time.monotonic() - t < 600
