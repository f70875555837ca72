"""The fork server (``rnncourse.sandbox.forkserver``): confined programs forked from a pre-imported process.

The confinement itself is checked in both launch modes by
``test_adversarial_sandbox.py`` (its ``launch`` fixture); here: what is
particular to forking: the programs really are forks, they share no state,
and kernels behave towards their manager as exec'ed ones do (interrupt,
kill, death of the launcher).
"""

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from rnncourse import sandbox
from rnncourse.sandbox import leftovers

ok, why = sandbox.available()
pytestmark = [pytest.mark.skipif(not ok, reason=f"confinement unavailable: {why}"),
              pytest.mark.sandbox]


@pytest.fixture
def server():
    os.environ.pop(sandbox.FORK_SERVER_VARIABLE, None)
    assert sandbox.start_fork_server()
    yield sandbox._FORK_SERVER["server"]
    sandbox.stop_fork_server()


def _run(sb, code, **kw):
    return subprocess.run(sb.wrap([sys.executable, "-c", textwrap.dedent(code)]),
                          capture_output=True, text=True, timeout=60, **kw)


def _gone(sb, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sb.root_mode:
            left = leftovers.pids_of_uid(sb.uid)
        else:
            left = {p for p in sb.pids() if leftovers.alive(p)}
        if not left:
            return True
        time.sleep(0.05)
    return False


def test_programs_are_forks_with_their_own_state(tmp_path, server):
    probe = """
        import sys, json, random
        import numpy as np
        pre = "matplotlib.pyplot" in sys.modules and "ipykernel.kernelapp" in sys.modules
        print(json.dumps({"preloaded": pre,
                          "ours": sorted(m for m in sys.modules if m.startswith("rnncourse")),
                          "argv": sys.argv, "np": float(np.random.rand()), "py": random.random()}))
    """
    outs = []
    for _ in range(2):
        with sandbox.Sandbox(tmp_path) as sb:
            assert "--via" in sb.wrap([sys.executable, "-c", "pass"])
            proc = _run(sb, probe)
            assert proc.returncode == 0, proc.stderr
            outs.append(json.loads(proc.stdout))
    assert all(o["preloaded"] for o in outs), "not forked from the pre-imported server"
    assert all(o["ours"] == [] and o["argv"] == ["-c"] for o in outs)
    assert outs[0]["np"] != outs[1]["np"] and outs[0]["py"] != outs[1]["py"], "random state shared"


def test_exit_status_and_streams_come_back(tmp_path, server):
    with sandbox.Sandbox(tmp_path) as sb:
        proc = _run(sb, "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)")
    assert (proc.returncode, proc.stdout, proc.stderr) == (3, "out\n", "err\n")


def test_the_server_environment_holds_no_secrets(tmp_path, monkeypatch):
    sandbox.stop_fork_server()
    os.environ.pop(sandbox.FORK_SERVER_VARIABLE, None)
    monkeypatch.setenv("RNNCOURSE_DB_URL", "postgresql+psycopg2://u:secret@db/x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "k")
    assert sandbox.start_fork_server()
    try:
        server = sandbox._FORK_SERVER["server"]
        assert server.alive()
        with open(f"/proc/{server.pid()}/environ", "rb") as f:
            env = f.read()
        assert b"secret" not in env and b"AWS_" not in env and b"RNNCOURSE" not in env
    finally:
        sandbox.stop_fork_server()


def test_killing_the_launcher_kills_the_program(tmp_path, server):
    with sandbox.Sandbox(tmp_path) as sb:
        launcher = subprocess.Popen(sb.wrap([sys.executable, "-c", textwrap.dedent("""
            import os, time
            if os.fork() == 0:
                os.setsid()
                time.sleep(1000)
            print("started", flush=True)
            time.sleep(1000)
        """)]), stdout=subprocess.PIPE, text=True)
        assert launcher.stdout.readline().strip() == "started"
        assert leftovers.pids_of_uid(sb.uid) or not sb.root_mode
        launcher.kill()
        launcher.wait(timeout=10)
        assert _gone(sb), "the program outlived its launcher"


def test_a_forked_kernel_is_interrupted_and_killed_like_an_execed_one(tmp_path, server):
    with sandbox.Sandbox(tmp_path) as sb:
        km = sb.kernel_manager(asynchronous=False)
        km.start_kernel(extra_arguments=["--HistoryManager.hist_file=:memory:"], cwd=str(tmp_path))
        kc = km.client()

        async def session():
            kc.start_channels()
            await kc.wait_for_ready(timeout=60)
            msg_id = kc.execute("import sys, time\nprint('numpy' in sys.modules)\ntime.sleep(100)")
            await asyncio.sleep(1.0)
            km.interrupt_kernel()
            reply = await kc.get_shell_msg(timeout=20)
            assert reply["parent_header"]["msg_id"] == msg_id
            return reply["content"]

        try:
            content = asyncio.run(session())
            assert content["status"] == "error" and content["ename"] == "KeyboardInterrupt"
            assert km.is_alive()
            km.shutdown_kernel(now=True)
            assert _gone(sb)
            assert not km.is_alive()
        finally:
            kc.stop_channels()
            if km.has_kernel:
                km.shutdown_kernel(now=True)


def test_without_a_live_server_commands_are_execed(tmp_path, server):
    os.kill(server.pid(), signal.SIGKILL)
    server.proc.wait()
    with sandbox.Sandbox(tmp_path) as sb:
        cmd = sb.wrap([sys.executable, "-c", "print('ok')"])
        assert "--via" not in cmd
        assert _run(sb, "print('ok')").stdout == "ok\n"


def test_workers_do_not_wait_for_a_shared_server_that_is_gone(tmp_path, monkeypatch):
    sandbox.stop_fork_server()
    monkeypatch.setenv(sandbox.FORK_SERVER_VARIABLE, str(tmp_path / "gone" / "forkserver.sock"))
    try:
        assert sandbox.start_fork_server()  # a worker finds the coordinator's server named
        t = time.monotonic()
        with sandbox.Sandbox(tmp_path) as sb:
            assert "--via" not in sb.wrap([sys.executable, "-c", "pass"])
        assert time.monotonic() - t < 5
    finally:
        sandbox.stop_fork_server()


def test_launcher_requests_round_trip_and_refuse_what_they_cannot_carry():
    from rnncourse.sandbox import confine

    argv = [sys.executable, "-c", "print('a=b')\nprint(1)", "", "é"]
    env = {"LANG": "C.UTF-8", "EMPTY": "", "EQ": "x=y"}
    assert confine.decode_request(confine.encode_request("/c/config-1.json", argv, env)) == (
        "/c/config-1.json", argv, env)
    for bad_argv, bad_env in (([sys.executable, "-c", "a\0b"], {}), ([sys.executable], {"A=B": "1"}),
                              ([sys.executable], {"": "1"})):
        with pytest.raises(ValueError):
            confine.encode_request("/c/config.json", bad_argv, bad_env)
    for bad in (b"", b"/c\0x", b"/c\x003\0a\0b", b"/c\x001\0a\0NOVALUE", b"/c\x000\0=v"):
        with pytest.raises(ValueError):
            confine.decode_request(bad)


def test_the_launcher_imports_no_slow_module(tmp_path):
    """Its start-up is paid per confined process: no ctypes, json, socket, enum or re."""
    probe, sock = tmp_path / "probe.py", str(tmp_path / "absent.sock")
    launcher = os.path.join(os.path.dirname(sandbox.__file__), "launch.py")
    probe.write_text(textwrap.dedent(f"""
        import sys
        sys.argv = [{launcher!r}, "--via", {sock!r}, "cfg", "--", "python", "-c", "1"]
        try:
            exec(compile(open({launcher!r}).read(), {launcher!r}, "exec"), {{"__name__": "__main__",
                                                                          "__file__": {launcher!r}}})
        except SystemExit as exc:
            print(exc, file=sys.stderr)
        print(" ".join(sorted(m for m in ("ctypes", "json", "socket", "enum", "re", "signal")
                              if m in sys.modules)))
    """))
    out = subprocess.run([sys.executable, "-I", "-S", str(probe)], capture_output=True, text=True, timeout=60)
    assert "fork server" in out.stderr and "not available" in out.stderr
    assert out.stdout.strip() == ""
