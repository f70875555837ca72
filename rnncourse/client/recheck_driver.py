"""The confined side of the re-check, run inside a sandbox as
``python -m rnncourse.client.recheck_driver OPTIONS_JSON``.

Runs in a fresh process that holds no reference data (see
:mod:`rnncourse.verdicts.recheck`, which starts it). It connects to the judge before
any of the student's code exists in the process, then asks the judge for
one step after another (``next``): a student cell to run with an IPython
shell (so magics work as in a kernel), each bounded by ``cell_timeout``
seconds, or a function to check on the test inputs that come with the step
(:func:`rnncourse.client.runcase.run_case`, the outputs sent back as plain arrays).
The judge decides the steps and their order and knows which one is
running; the driver reports nothing about itself. Everything here may be
subverted by the student's code, and none of it is believed: whatever it
sends on the driver's connection is checked by the judge like any other
request.

The driver starts with a working directory and ``sys.path`` that hold only
the course's client modules, so no file the student submitted can be
imported before the first step; the student's directory is entered (and put
first on ``sys.path``, as in a kernel) when the first cell runs.
"""

import json
import os
import signal
import sys

from rnncourse.client import testcases
from rnncourse.client.judge_client import JUDGE_ENV, JudgeClient
from rnncourse.client.runcase import run_case


class StepTimeout(Exception):
    """A cell or a function ran past its time."""


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    options = json.loads(argv[0]) if argv else {}
    timeout = float(options.get("cell_timeout", 30))
    workdir = options.get("workdir")
    socket_path = os.environ[JUDGE_ENV]
    # Connected before any student code runs: the judge of a re-check grades only on
    # this first connection, so the student's cells cannot begin functions themselves.
    client = JudgeClient(socket_path)
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance(colors="NoColor", autoindent=False)
    entered = False
    while True:
        reply, payload = client.request({"op": "next"})
        step = reply.get("step")
        if step == "done":
            break
        if step == "cell":
            if not entered and workdir:
                os.chdir(workdir)
                sys.path.insert(0, workdir)
                entered = True
            _run_cell(shell, str(reply.get("source", "")), timeout)
        elif step == "function":
            _check(client, str(reply.get("fn")), reply, payload, shell.user_ns, timeout)
        else:
            break
    client.close()
    os._exit(0)


def _run_cell(shell, source, timeout):
    def on_alarm(signum, frame):
        raise StepTimeout(f"took longer than {timeout:g} s")

    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        shell.run_cell(source, store_history=False, silent=True)
    except BaseException:  # a cell must not stop the checks (run_cell rarely raises)
        pass
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _check(client, fn, reply, inputs, ns, timeout):
    """Run the student's ``fn`` on the step's test inputs and submit the outputs."""
    func = ns.get(fn)
    if not callable(func):
        client.request({"op": "undefined"})
        return
    expired = []

    def guarded(*args, **kwargs):
        if expired:
            raise StepTimeout(f"took longer than {timeout:g} s")
        return func(*args, **kwargs)

    def on_alarm(signum, frame):
        expired.append(True)
        raise StepTimeout(f"took longer than {timeout:g} s")

    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        data = [{"inputs": list(i), "shapes": s} for i, s in zip(inputs, reply["shapes"])]
        dep = testcases.DEPENDS.get(fn)
        if dep and isinstance(reply.get("signature"), list):  # as JudgeClient.begin keeps it
            client._signatures[dep] = reply["signature"]
        stand_in = client.stand_in(dep) if dep else None
        got_all = [run_case(fn, guarded, ns, case, stand_in) for case in data]
    except BaseException:  # the judge records the function as not finished
        got_all = None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    if got_all is not None:
        client.submit(fn, got_all)


if __name__ == "__main__":
    main()
