"""The security primitives one by one: confinement, limits, process tree, wire, judge, re-check.

The whole-class adversarial suite (every case through ``make grade``) is in
``test_adversarial.py``; these tests pin down each mechanism it relies on.
"""

import io
import json
import os
import socket
import struct
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from rnncourse import FUNCTIONS, grading, sandbox
from rnncourse.client import judge_client, testcases, wire
from rnncourse.confinement import course_contents
from rnncourse.content import mistakes
from rnncourse.sandbox import leftovers
from rnncourse.verdicts import judge, recheck

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

ok, why = sandbox.available()
needs_sandbox = pytest.mark.skipif(not ok, reason=f"confinement unavailable: {why}")


@pytest.fixture(params=["exec", "fork-server"])
def launch(request):
    """Each confinement test twice: programs exec'ed anew, and forked by a fork server."""
    if request.param == "fork-server":
        assert sandbox.start_fork_server()
        yield request.param
        sandbox.stop_fork_server()
    else:
        yield request.param


def confined(tmp_path, code, limits=None, timeout=60, judge_dir=None, env=None):
    """Run python ``code`` confined in ``tmp_path`` as the grader does (the course's contents);
    ``(returncode, stdout, stderr)``."""
    with sandbox.Sandbox(tmp_path, limits, judge_dir=judge_dir, contents=course_contents()) as sb:
        proc = subprocess.run(sb.wrap([sys.executable, "-c", textwrap.dedent(code)]),
                              capture_output=True, text=True, timeout=timeout,
                              env=env)
        return proc.returncode, proc.stdout, proc.stderr


def test_available_reports_how():
    assert isinstance(ok, bool) and why
    if sys.platform.startswith("linux") and os.geteuid() == 0:
        assert ok, why


@needs_sandbox
def test_confined_code_sees_only_its_workdir(tmp_path, root, launch):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    secret_env = dict(os.environ, RNNCOURSE_DB_URL="postgresql://u:secret@db/x", AWS_SECRET_ACCESS_KEY="k")
    (tmp_path / "mine.txt").write_text("student file")
    probe = f"""
        import json, os, socket
        out = {{"uid": os.getuid(), "groups": os.getgroups(), "cwd": os.getcwd(),
               "mine": open("mine.txt").read()}}
        paths = {{p: os.path.exists(p) for p in [
            {str(root)!r} + "/rnncourse/data", {str(root)!r} + "/source/rnn_lstm/rnn_lstm.ipynb",
            {str(root)!r} + "/nbgrader_config.py", {str(root)!r} + "/release", "/root/.bashrc", "/home"]}}
        out["seen"] = [p for p, e in paths.items() if e]
        writes = []
        for p in [{sys.prefix!r} + "/evil", "/usr/evil", "/evil", "/etc/evil", {str(root)!r} + "/evil"]:
            try:
                open(p, "w").write("x")
                writes.append(p)
            except OSError:
                pass
        out["writes"] = writes
        with open("/proc/self/mountinfo") as f:
            fields = [line.split() for line in f]
        out["rw_mounts"] = sorted(x[4] for x in fields if "rw" in x[5].split(","))
        open("/tmp/private-tmp-file", "w").write("x")
        try:
            socket.create_connection(("127.0.0.1", {port}), timeout=2)
            out["net"] = True
        except OSError:
            out["net"] = False
        out["env"] = sorted(os.environ)
        out["pids"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
        import rnncourse
        out["package"] = rnncourse.__file__
        try:
            import rnncourse.content.refdata
            out["refdata"] = True
        except ImportError:
            out["refdata"] = False
        # The hidden cell's module is there; its local mode (no judge) reaches for the trusted
        # half, which the confined copy does not hold: that import fails by design.
        from rnncourse.grading import check
        try:
            check("rnn_cell_forward", {{"rnn_cell_forward": lambda *a: None}})
            out["local_mode"] = "graded"
        except ImportError as exc:
            out["local_mode"] = exc.name
        print(json.dumps(out))
    """
    code, stdout, stderr = confined(tmp_path, probe, env=secret_env)
    listener.close()
    assert code == 0, stderr
    out = json.loads(stdout)
    assert out["uid"] != 0 and out["uid"] != os.getuid() and out["groups"] == []
    assert out["cwd"] == str(tmp_path.resolve()) and out["mine"] == "student file"
    assert out["seen"] == [], "instructor paths visible inside the sandbox"
    assert out["writes"] == [], "wrote outside the workdir"
    writable = {str(tmp_path.resolve()), "/tmp", "/dev/shm", "/proc"} | {
        f"/dev/{d}" for d in ("null", "zero", "full", "random", "urandom")}
    assert set(out["rw_mounts"]) <= writable, "a writable mount besides the workdir, /tmp and devices"
    assert not os.path.exists("/tmp/private-tmp-file")
    assert out["net"] is False
    assert not any(k.startswith(("RNNCOURSE_DB", "AWS")) for k in out["env"])
    assert len(out["pids"]) <= 3  # the namespace's init and this process (no host processes)
    assert out["package"].startswith(sandbox.CLIENT_DIR) and out["refdata"] is False
    assert out["local_mode"] == "rnncourse.verdicts"


@needs_sandbox
def test_limits_memory_file_size_processes(tmp_path, launch):
    limits = sandbox.Limits(memory=1024 ** 3, file_size=1024 ** 2, processes=12, total_timeout=60)
    probe = """
        import os, json
        out = {}
        try:
            b = bytearray(3 * 1024 ** 3)
            out["memory"] = "allocated"
        except MemoryError:
            out["memory"] = "MemoryError"
        try:
            with open("big", "wb") as f:
                f.write(b"x" * (2 * 1024 ** 2))
            out["file"] = "written"
        except OSError as e:
            out["file"] = "refused"
        kids = []
        try:
            for _ in range(64):
                pid = os.fork()
                if pid == 0:
                    import time
                    time.sleep(30)
                    os._exit(0)
                kids.append(pid)
            out["fork"] = len(kids)
        except OSError:
            out["fork"] = "refused after %d" % len(kids)
        print(json.dumps(out))
        os._exit(0)
    """
    code, stdout, stderr = confined(tmp_path, probe, limits)
    out = json.loads(stdout)
    assert out["memory"] == "MemoryError"
    assert out["file"] == "refused"
    assert str(out["fork"]).startswith("refused")


@needs_sandbox
def test_memory_of_the_whole_sandbox_is_capped(tmp_path, launch):
    """Forked children cannot add up their per-process allowances (memory cgroup)."""
    limits = sandbox.Limits(memory=1024 ** 3, memory_total=256 * 1024 ** 2, total_timeout=60)
    with sandbox.Sandbox(tmp_path, limits) as sb:
        if sb.cgroup is None:
            pytest.skip("no memory cgroup can be created here (per-process limits only)")
        probe = """
            import os
            kids = []
            for _ in range(3):
                pid = os.fork()
                if pid == 0:
                    hog = b"x" * (200 * 1024 ** 2)
                    import time
                    time.sleep(1)
                    os._exit(0)
                kids.append(pid)
            print(sum(os.waitpid(p, 0)[1] != 0 for p in kids))
        """
        proc = subprocess.run(sb.wrap([sys.executable, "-c", textwrap.dedent(probe)]),
                              capture_output=True, text=True, timeout=60)
        assert int(proc.stdout) >= 1, proc.stderr


@needs_sandbox
def test_cpu_of_the_whole_sandbox_is_capped(tmp_path, launch):
    """However many processes spin, a sandbox gets at most ``cpus`` cores (CPU cgroup)."""
    limits = sandbox.Limits(cpus=0.05, total_timeout=60)
    with sandbox.Sandbox(tmp_path, limits) as sb:
        if sb.cpu_cgroup is None:
            pytest.skip("no CPU cgroup can be created here (per-process CPU time only)")
        probe = """
            import os, resource, time
            start = time.monotonic()
            kids = []
            for _ in range(4):
                pid = os.fork()
                if pid == 0:
                    while time.monotonic() < start + 3:
                        pass
                    os._exit(0)
                kids.append(pid)
            for p in kids:
                os.waitpid(p, 0)
            use = resource.getrusage(resource.RUSAGE_CHILDREN)
            print(use.ru_utime + use.ru_stime, time.monotonic() - start)
        """
        proc = subprocess.run(sb.wrap([sys.executable, "-c", textwrap.dedent(probe)]),
                              capture_output=True, text=True, timeout=60)
        cpu, wall = map(float, proc.stdout.split())
        assert wall >= 3 and cpu <= 0.1 * wall + 0.05, (cpu, wall)  # 4 spinners, 1/20 core


@needs_sandbox
def test_workdir_cannot_fill_the_disk(tmp_path, launch):
    (tmp_path / "given.txt").write_text("released file")
    limits = sandbox.Limits(work_size=8 * 1024 ** 2)
    with sandbox.Sandbox(tmp_path, limits) as sb:
        if not sb.work_mount:
            pytest.skip("the workdir cannot be made a tmpfs here (needs root)")
        (tmp_path / "late.txt").write_text(" (and a file the grader added later)")
        probe = """
            n = 0
            print(open("given.txt").read() + open("late.txt").read())
            try:
                while True:
                    with open(f"f{n}", "wb") as f:
                        f.write(b"x" * 1024 ** 2)
                    n += 1
            except OSError as e:
                print(n, e.strerror)
        """
        proc = subprocess.run(sb.wrap([sys.executable, "-c", textwrap.dedent(probe)]),
                              capture_output=True, text=True, timeout=60)
        given, stopped = proc.stdout.splitlines()
        assert given == "released file (and a file the grader added later)"
        assert int(stopped.split()[0]) < 8 and "space" in stopped
    assert not os.path.ismount(tmp_path)


@needs_sandbox
def test_total_timeout_kills_the_tree(tmp_path, launch):
    code, _, _ = confined(tmp_path, "import time; time.sleep(600)",
                          sandbox.Limits(total_timeout=2), timeout=60)
    assert code != 0


@needs_sandbox
def test_no_process_outlives_its_sandbox(tmp_path, launch):
    daemon = """
        import os, sys, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                time.sleep(1000)
            os._exit(0)
        time.sleep(0.5)
        print("started")
    """
    sb = sandbox.Sandbox(tmp_path)
    try:
        proc = subprocess.run(sb.wrap([sys.executable, "-c", textwrap.dedent(daemon)]),
                              capture_output=True, text=True, timeout=60)
        assert proc.stdout.strip() == "started"
        # The payload exited: its namespace died with every process in it.
        assert leftovers.pids_of_uid(sb.uid) == set()
        # A payload still running is killed, tree and all, by kill_all().
        running = subprocess.Popen(sb.wrap([sys.executable, "-c", textwrap.dedent(daemon).replace(
            'print("started")', 'print("started", flush=True); time.sleep(1000)')]),
            stdout=subprocess.PIPE, text=True)
        assert running.stdout.readline().strip() == "started"
        assert len(leftovers.pids_of_uid(sb.uid)) >= 2
        assert sb.kill_all()
        running.wait(timeout=10)
        assert leftovers.pids_of_uid(sb.uid) == set()
    finally:
        sb.close()


def test_limits_are_validated():
    with pytest.raises(ValueError, match="memory"):
        sandbox.Limits(memory=0)
    with pytest.raises(ValueError, match="unknown limits"):
        sandbox.Limits.from_dict({"memroy": 1})
    assert sandbox.Limits.from_dict({"cell_timeout": 5}).cell_timeout == 5


# ---------------------------------------------------------------- wire
def _message(head, tail=b""):
    """A message body (what follows the length) with JSON ``head`` and raw bytes ``tail``."""
    text = json.dumps(head).encode()
    return struct.pack(">I", len(text)) + text + tail


def test_wire_round_trip_and_refusals():
    payload = [np.arange(6.0).reshape(2, 3), {"a": (np.ones(2), "text", 3, None)}, [True]]
    header, back = wire.decode(wire.encode({"op": "x"}, payload)[12:])
    assert header == {"op": "x"}
    assert np.array_equal(back[0], payload[0]) and back[1]["a"][1:] == ("text", 3, None)
    buf = io.BytesIO()
    np.save(buf, np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    refused = [  # a pickle where floats belong, shapes that lie, or no shapes at all
        _message({"spec": {"a": 0}, "dims": [[len(buf.getvalue())]]}, buf.getvalue()),
        _message({"spec": {"a": 0}, "dims": [[4]]}, b"\0" * 31),
        _message({"spec": {"a": 0}, "dims": [[2]]}, b"\0" * 24),
        _message({"spec": {"a": 0}, "dims": [[-1]]}, b"\0" * 8),
        _message({"spec": {"a": 0}, "dims": [[0, 10 ** 30]]}),
        _message({"spec": {"a": 0}, "dims": [[1.5]]}, b"\0" * 8),
        _message({"spec": {"a": 0}, "dims": [[1] * 9]}, b"\0" * 8),
        _message({"spec": {"a": 0}, "dims": "[[1]]"}, b"\0" * 8),
        _message({"spec": {"a": 0}}, b"\0" * 8),
        _message({"spec": {"a": 1}, "dims": [[1]]}, b"\0" * 8),
        _message([1, 2]),
    ]
    # Malformed specs, and one nested too deeply.
    deep = {"v": 1}
    for _ in range(100):
        deep = {"l": [deep]}
    refused += [_message({"spec": spec, "dims": []})
                for spec in ({"z": 1}, {"a": 5}, {"v": [1, 2]}, {"t": {"x": 1}}, deep)]
    for message in refused:
        with pytest.raises(wire.ProtocolError):
            wire.decode(message)
    with pytest.raises(wire.ProtocolError, match="deeply"):
        wire.decode(refused[-1])
    header, back = wire.decode(_message({"spec": {"a": 0}, "dims": [[2, 1]]},
                                        np.array([1.5, -2.0], dtype="<f8").tobytes()))
    assert back.shape == (2, 1) and back.dtype == np.float64 and back.flags.writeable
    assert back.tolist() == [[1.5], [-2.0]]
    a, b = socket.socketpair()
    a.sendall(b"RNNW" + struct.pack(">Q", 1 << 40))
    with pytest.raises(wire.ProtocolError, match="exceeds"):
        wire.recv(b, 1024)


# ---------------------------------------------------------------- judge
def _outcome(fn, namespace):
    try:
        return grading.check(fn, namespace)
    except AssertionError as exc:
        return str(exc)


def test_remote_mode_equals_local_mode(ref, monkeypatch, capsys):
    """Points, reports and named mistakes are identical through the judge, for every catalogued mistake."""
    modules = [(fn, ref) for fn in FUNCTIONS] + [(m.fn, mistakes.variant(m)) for m in mistakes.MISTAKES]
    for fn, module in modules:
        ns = dict(vars(module))
        monkeypatch.delenv(grading.JUDGE_ENV, raising=False)
        local = _outcome(fn, ns)
        local_out = capsys.readouterr().out
        with judge.Judge() as j:
            monkeypatch.setenv(grading.JUDGE_ENV, j.socket_path)
            remote = _outcome(fn, ns)
        assert remote == local and capsys.readouterr().out == local_out, fn
        assert j.results[fn]["points"] == (local if isinstance(local, float) else 0.0)


def test_judge_rules(ref):
    with judge.Judge(strict_order=True) as j:
        c = judge_client.JudgeClient(j.socket_path)
        with pytest.raises(judge_client.JudgeError, match="not available"):
            c.stand_in("rnn_cell_forward")(np.zeros((3, 1)), np.zeros((5, 1)), {})
        data = c.begin("rnn_forward")
        with pytest.raises(judge_client.JudgeError, match="not available"):
            c.stand_in("lstm_cell_forward")(*data[0]["inputs"], {})
        stand_in = c.stand_in("rnn_cell_forward")
        x, a0, p = data[0]["inputs"]
        a_next, yt, cache = stand_in(x[:, :, 0], a0, p)
        assert np.allclose(a_next, ref.rnn_cell_forward(x[:, :, 0], a0, p)[0])
        with pytest.raises(judge_client.JudgeError, match="larger"):
            stand_in(np.zeros((3, 10 ** 5)), a0, p)  # sized as received
        reply, _ = j.handle({"op": "ref", "fn": "rnn_cell_forward"}, [np.zeros((3, 10 ** 5)), a0, p])
        assert "larger" in reply["error"]  # sized by encoding it again
        # Not on other functions' inputs (no numerical differentiation through the reference):
        # the answer keeps the reference's structure, with NaN in place of every value.
        for off in (stand_in(x[:, :, 0] + 1e-6, a0, p),
                    stand_in(x[:, :, 0], a0, {**p, "Wax": p["Wax"] + 1e-6})):
            assert np.isnan(off[0]).all() and np.isnan(off[1]).all() and np.isnan(off[2][0]).all()
        with pytest.raises(judge_client.JudgeError, match="too many"):  # a few per example and step
            for _ in range(judge.ORACLE_FACTOR * sum(c["inputs"][0][0].size for c in data) + 3):
                stand_in(x[:, :, 0], a0, p)
        with pytest.raises(judge_client.JudgeError, match="already checked"):
            c.begin("rnn_forward")
        with pytest.raises(judge_client.JudgeError, match="before"):
            c.begin("rnn_cell_forward")
        with pytest.raises(judge_client.JudgeError, match="not being checked"):
            c.submit("lstm_forward", [])
        points, n_ok, text, _ = c.submit("rnn_forward", [{} for _ in data])
        assert points == 0 and "was not sent back" in text
        c.close()
    assert j.results["rnn_forward"]["points"] == 0 and j.events


def test_reference_cell_only_on_states_a_sequence_pass_reaches(ref):
    """A free running state would let the reference cell answer the cell function's own test."""
    data = refdata_load()
    xt_c, a_c, p_c = data["rnn_cell_forward"][0]["inputs"]
    with judge.Judge(strict_order=True, data=data, ref=ref) as j:
        c = judge_client.JudgeClient(j.socket_path)
        x, a0, p = c.begin("rnn_forward")[0]["inputs"]
        # The attack: the same parameters, so solve for the a_prev that gives the cell's own
        # pre-activation at a time step of x; the reference would then return its answers.
        assert all(np.array_equal(p[k], p_c[k]) for k in p)
        crafted = a_c + np.linalg.solve(p["Waa"], p["Wax"] @ (xt_c - x[:, :, 0]))
        assert np.allclose(ref.rnn_cell_forward(x[:, :, 0], crafted, p)[0],
                           data["rnn_cell_forward"][0]["expected"]["a_next"])
        stand_in = c.stand_in("rnn_cell_forward")
        got = stand_in(x[:, :, 0], crafted, p)  # answered, with NaN alone
        assert all(np.isnan(v).all() for v in (got[0], got[1], got[2][0]))
        assert got[2][1] is crafted and got[2][3] is p
        a1 = stand_in(x[:, :, 0], a0, p)[0]  # the chain: a0, then what it returned
        stand_in(x[:, :, 1], a1, p)
        stand_in(x[:, :, 1], a0.astype(np.float32), p)  # a copy in another float type
        c.close()
        c = judge_client.JudgeClient(j.socket_path)
        da, caches = c.begin("rnn_backward")[0]["inputs"]
        stand_in = c.stand_in("rnn_cell_backward")
        T = da.shape[-1]
        assert all(np.isnan(v).all() for v in stand_in(da[:, :, T - 1] * 1.5, caches[0][T - 1]).values())
        g = stand_in(da[:, :, T - 1], caches[0][T - 1])
        stand_in(da[:, :, T - 2] + g["da_prev"], caches[0][T - 2])  # da_next = da<t> + da_prev<t+1>
        stand_in(da[:, :, T - 2], caches[0][T - 2])  # the catalogued mistake: nothing added
        c.close()
    assert any("no sequence pass reaches" in e for e in j.events)


def refdata_load():
    from rnncourse.content import refdata

    return refdata.load()


def test_recheck_judge_hands_out_the_steps(ref):
    """The re-check driver claims nothing: forged or malformed messages are refused and noted."""
    cells = [{"index": 3, "source": "x = 1"}, {"index": 5, "source": "y = 2"}]
    with judge.Judge(exclusive=True, strict_order=True, ref=ref) as j:
        j.plan(cells, skip_cells=[5])
        grader = judge_client.JudgeClient(j.socket_path)
        intruder = judge_client.JudgeClient(j.socket_path)
        with pytest.raises(judge_client.JudgeError, match="only the grader"):
            intruder.request({"op": "next"})
        reply, _ = grader.request({"op": "next"})
        assert (reply["step"], reply["index"], reply["source"]) == ("cell", 3, "x = 1")
        assert j.progress == {"stage": "cell", "index": 3}
        for forged in ({"op": "progress", "stage": "function"}, {"op": "progress", "stage": "cell"},
                       {"op": "begin", "fn": "lstm_backward"}, {"op": "undefined"},
                       {"op": "submit"}, {"op": 7}, {}):
            with pytest.raises(judge_client.JudgeError):
                grader.request(forged)
        assert j.progress == {"stage": "cell", "index": 3} and j.begun == []
        reply, inputs = grader.request({"op": "next"})
        assert (reply["step"], reply["fn"]) == ("function", "rnn_cell_forward") and inputs
        assert j.progress == {"stage": "function", "fn": "rnn_cell_forward"}
        grader.request({"op": "undefined"})
        assert "rnn_cell_forward" in j.undefined and j.active is None
        reply, _ = grader.request({"op": "next"})
        assert reply["fn"] == "rnn_forward"
        for _ in FUNCTIONS[2:]:
            grader.request({"op": "next"})  # each abandons the one before
        assert grader.request({"op": "next"})[0]["step"] == "done"
        for cl in (grader, intruder):
            cl.close()
    assert j.results["rnn_forward"]["points"] == 0
    assert "rnn_cell_forward" not in j.results


def test_exclusive_judge_grades_only_on_the_graders_connection():
    with judge.Judge(exclusive=True) as j:
        grader = judge_client.JudgeClient(j.socket_path)
        intruder = judge_client.JudgeClient(j.socket_path)
        with pytest.raises(judge_client.JudgeError, match="only the grader"):
            intruder.begin("rnn_cell_forward")
        assert len(grader.begin("rnn_cell_forward")) == len(testcases.CASES)
        j.expect_grader()
        restarted = judge_client.JudgeClient(j.socket_path)
        with pytest.raises(judge_client.JudgeError, match="only the grader"):
            grader.begin("rnn_forward")
        assert restarted.begin("rnn_forward")
        for c in (grader, intruder, restarted):
            c.close()


# ---------------------------------------------------------------- re-check
def _notebook(sources):
    cells = [{"cell_type": "code", "metadata": {"nbgrader": {"grade_id": "imports", "locked": True,
                                                             "solution": False, "grade": False}},
              "source": "import numpy as np\nfrom rnn_utils import sigmoid, softmax"}]
    for fn, src in sources.items():
        cells.append({"cell_type": "code", "source": src,
                      "metadata": {"nbgrader": {"grade_id": fn, "solution": True, "grade": False}}})
        cells.append({"cell_type": "code", "source": f"check({fn!r}, globals())",
                      "metadata": {"nbgrader": {"grade_id": fn + "_hidden", "grade": True, "points": 1,
                                                "solution": False, "locked": True}}})
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


@needs_sandbox
def test_recheck_credits_honest_parts_of_a_hostile_notebook(root, launch):
    from rnncourse.content import reference

    sols = reference.solution_sources()
    sources = {fn: sols[fn] for fn in FUNCTIONS}
    # A cell that hangs with every signal ignored, a function that kills its process,
    # a function that loops, and an input transformer: the rest must still be credited.
    sources["rnn_forward"] = ("import signal\nfor s in (signal.SIGINT, signal.SIGALRM):\n"
                              "    signal.signal(s, signal.SIG_IGN)\nwhile True:\n    pass\n")
    sources["rnn_backward"] = "import os\ndef rnn_backward(da, caches):\n    os._exit(0)\n"
    sources["lstm_forward"] = "def lstm_forward(x, a0, parameters):\n    while True:\n        pass\n"
    sources["lstm_backward"] = ("get_ipython().input_transformers_cleanup.append(lambda lines: ['pass\\n'])\n"
                                + sources["lstm_backward"])
    files = {"rnn_utils.py": (root / "release" / "rnn_lstm" / "rnn_utils.py").read_bytes()}
    got = recheck.recheck(_notebook(sources), files, {"cell_timeout": 2, "total_timeout": 120})
    points = {fn: got[fn]["points"] for fn in FUNCTIONS}
    assert points == {**testcases.POINTS, "rnn_forward": 0.0, "rnn_backward": 0.0, "lstm_forward": 0.0}
    assert "not defined" in got["rnn_forward"]["report"]
    assert "StepTimeout" in got["lstm_forward"]["report"]
    assert "stopped" in got["rnn_backward"]["report"]


def test_recheck_rejects_unreadable_notebooks_and_bad_file_names():
    got = recheck.recheck("{not json", {})
    assert set(got) == set(FUNCTIONS) and all(v["points"] == 0 for v in got.values())
    assert "could not be read" in got["rnn_forward"]["report"]
    with pytest.raises(ValueError, match="plain file names"):
        recheck.recheck(_notebook({}), {"../escape.py": b""})


@needs_sandbox
def test_recheck_that_cannot_start_is_an_error_not_zeros():
    """Zeros are recorded only for what the submission did; a broken grader raises instead."""
    full = course_contents()
    broken = sandbox.Contents(tuple(f for f in full.files if not f[1].endswith("/recheck_driver.py")),
                              full.protected)
    with pytest.raises(recheck.RecheckError, match="did not start"):
        recheck.recheck(_notebook({}), {}, contents=broken)
