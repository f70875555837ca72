"""``python reaper.py REPORT_JSON -- COMMAND...``: run a command and report what it left running.

This process makes itself a child subreaper: any process that the command
(and its descendants) started and abandoned is re-parented here instead of
to init. After the command exits (and a short grace), every such process is
listed in the report, then killed.
"""

import ctypes
import json
import os
import signal
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


def children():
    me, found = os.getpid(), {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == me and fields[0] != "Z":
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    found[int(name)] = f.read().replace(b"\0", b" ").decode(errors="replace")[:200]
        except (OSError, IndexError, ValueError):
            continue
    return found


def main():
    report, cmd = sys.argv[1], sys.argv[3:]
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    code = subprocess.call(cmd)
    time.sleep(1.0)
    left = children()
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        while True:
            os.waitpid(-1, 0)
    except ChildProcessError:
        pass
    with open(report, "w") as f:
        json.dump({"returncode": code, "leftover": [f"{p}: {c}" for p, c in left.items()]}, f)
    sys.exit(code)


if __name__ == "__main__":
    main()
