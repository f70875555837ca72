"""rnncourse.run.worker: one submission's steps; its two confined processes never run at the same time."""

import json
import textwrap
from pathlib import Path

import pytest

from rnncourse import sandbox
from rnncourse.run import worker

ok, why = sandbox.available()
ROOT = Path(__file__).resolve().parents[1]

PROBE = textwrap.dedent('''
    import fcntl, os, struct, sys, time
    import numpy as np

    fd = os.open(os.path.realpath(np.__file__), os.O_RDONLY)  # a file both sandboxes can open


    def flock(kind, start):
        return struct.pack("hhqqixxxx", kind, 0, start, 1, 0)


    if "driver" in os.path.basename(sys.argv[0] if sys.argv else ""):  # the re-check
        fcntl.fcntl(fd, fcntl.F_SETLK, flock(fcntl.F_RDLCK, 7))
        time.sleep(12)
    else:  # the kernel: is the re-check's lock there?
        seen, end = False, time.monotonic() + 12
        while not seen and time.monotonic() < end:
            got = fcntl.fcntl(fd, fcntl.F_GETLK, flock(fcntl.F_WRLCK, 7))
            seen = struct.unpack("hhqqixxxx", got)[0] != fcntl.F_UNLCK
            time.sleep(0.05)
        print("SEEN" if seen else "ALONE")
''')


@pytest.mark.sandbox
@pytest.mark.skipif(not ok, reason=f"confinement unavailable: {why}")
def test_recheck_is_over_before_the_kernel_runs_the_submission():
    """A lock the re-check holds for 12 s is gone before the kernel's first cell looks for it."""
    nb = {"cells": [{"cell_type": "code", "metadata": {}, "source": PROBE, "outputs": [],
                     "execution_count": None}],
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    task = {"student": "probe", "notebook_name": "rnn_lstm", "notebook": json.dumps(nb),
            "files": {"rnn_utils.py": (ROOT / "release" / "rnn_lstm" / "rnn_utils.py").read_bytes()},
            "limits": {"cell_timeout": 20, "total_timeout": 90}, "prestart": False}
    result = worker.execute_submission(task)
    assert result["infra_error"] is None and result["recheck"] is not None, result
    outputs = json.loads(result["notebook"])["cells"][0]["outputs"]
    printed = "".join("".join(o.get("text", "")) for o in outputs)
    assert printed.split() == ["ALONE"], printed
    assert result["timings"]["recheck"] >= 12  # the re-check did hold its lock


def test_a_judge_record_lowers_a_cell_that_never_ran():
    """The kernel died before the cell, but its own code had begun the check: the lower verdict counts."""
    import nbformat

    from rnncourse.run import scoring

    cell = nbformat.v4.new_code_cell('check("rnn_cell_forward", globals())')
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": "rnn_cell_forward_hidden", "points": 10,
                                 "solution": False, "locked": True, "schema_version": 3}
    nb = nbformat.writes(nbformat.v4.new_notebook(cells=[cell]))
    recheck = {"rnn_cell_forward": {"points": 10.0, "report": "3 of 3"}}
    scores, _, _, _ = scoring.score_notebook(nb, True, {}, recheck)
    assert scores["rnn_cell_forward_hidden"] == 10.0  # honest work after a crash still counts
    judge = {"rnn_cell_forward": {"points": 0.0, "report": "did not finish"}}
    scores, _, _, _ = scoring.score_notebook(nb, True, judge, recheck)
    assert scores["rnn_cell_forward_hidden"] == 0.0


def test_a_bad_task_is_the_machinerys_failure_and_runs_nothing(monkeypatch):
    monkeypatch.setattr(worker._POOL, "take", lambda *a: pytest.fail("a kernel was taken"))
    result = worker.execute_submission({"student": "eve", "files": {"../../etc/passwd": b""}})
    assert result["infra_error"] == "ValueError: task file name '../../etc/passwd': plain file names only"
    assert result["student"] == "eve" and result["notebook"] is None and result["timings"] == {}


def test_a_worker_with_other_reference_data_refuses_to_grade(monkeypatch):
    from rnncourse.run import trusted_reference

    monkeypatch.setattr(trusted_reference, "load", lambda: (None, None))
    monkeypatch.setattr(trusted_reference, "loaded_digest", lambda: "mine")
    with pytest.raises(RuntimeError, match="install the same version of the course on every worker"):
        worker._accept({"confine": False, "reference_digest": "theirs"})
    assert worker._accept({"confine": False, "reference_digest": "mine"}).reference_digest == "mine"


def test_a_kernel_that_cannot_start_is_reported_and_timed(monkeypatch):
    def take(key, spec):
        raise OSError("no kernel")

    monkeypatch.setattr(worker._POOL, "take", take)
    result = worker.execute_submission({"student": "eve", "confine": False, "notebook": "{}"})
    assert result["infra_error"] == "could not start a kernel: OSError: no kernel"
    assert {"total", "worker_cpu", "recheck_cpu"} <= set(result["timings"])


def test_an_unconfined_submission_runs_like_stock_nbgrader():
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(open('mine.txt').read())")])
    result = worker.execute_submission({"student": "ada", "notebook": nbformat.writes(nb), "confine": False,
                                        "warm": False, "prestart": False,
                                        "extra_files": {"mine.txt": b"from the student"}})
    assert result["infra_error"] is None and result["error"] is None, result
    assert result["judge"] is None and result["recheck"] is None  # no judge, no re-check unconfined
    outputs = json.loads(result["notebook"])["cells"][0]["outputs"]
    assert "".join(outputs[0]["text"]) == "from the student\n"
    assert result["timings"]["prestarted"] == 0.0 and "cleanup" in result["timings"]


def test_judge_record():
    class Judge:
        results = {"rnn_forward": {"points": 7, "report": "2 of 3", "mistakes": [1]}}
        events = []

    assert worker._judge_record(None) == (None, None)
    verdicts, events = worker._judge_record(Judge)
    assert verdicts == {"rnn_forward": {"points": 7.0, "report": "2 of 3", "mistakes": ["1"],
                                        "diagnosis": None}}
    assert events is None
    Judge.events = ["refused a request"]
    assert worker._judge_record(Judge)[1] == ["refused a request"]
