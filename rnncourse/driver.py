"""The confined side of the re-check: ``python -m rnncourse.driver SKIP_JSON`` inside a sandbox.

Runs in a fresh process that holds no reference data (see
:mod:`rnncourse.recheck`, which starts it). It executes the student's cells
from ``cells.json`` in the working directory with an IPython shell (so magics
work as in a kernel), each bounded by ``cell_timeout`` seconds, then checks
the eight functions in course order through the judge
(:func:`rnncourse.grading.remote_check`): the judge sends the test inputs and
grades the plain arrays sent back. Before each step it tells the judge where
it is, so the trusted side can skip a step that hangs and start again.
Everything here may be subverted by the student's code; nothing it says is
trusted beyond "skip this step next time".
"""

import json
import os
import signal
import sys

from . import FUNCTIONS, grading


class StepTimeout(Exception):
    """A cell or a function ran past its time."""


def _progress(client, **info):
    try:
        client.request({"op": "progress", **info})
    except Exception:  # the judge may refuse; the step runs anyway
        pass


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    skip = json.loads(argv[0]) if argv else {}
    skip_cells, skip_fns = set(skip.get("cells", ())), set(skip.get("functions", ()))
    timeout = float(skip.get("cell_timeout", 30))
    socket_path = os.environ[grading.JUDGE_ENV]
    # Connected before any student code runs: the judge of a re-check grades only on
    # this first connection, so the student's cells cannot begin functions themselves.
    client = grading.JudgeClient(socket_path)
    with open("cells.json", encoding="utf-8") as f:
        cells = json.load(f)

    def on_alarm(signum, frame):
        raise StepTimeout(f"took longer than {timeout:g} s")

    signal.signal(signal.SIGALRM, on_alarm)
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance(colors="NoColor", autoindent=False)
    for cell in cells:
        if cell["index"] in skip_cells:
            continue
        _progress(client, stage="cell", index=cell["index"])
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            shell.run_cell(cell["source"], store_history=False, silent=True)
        except BaseException:  # a cell must not stop the checks (run_cell rarely raises)
            pass
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    ns = shell.user_ns
    for fn in FUNCTIONS:
        if fn in skip_fns:
            continue
        func = ns.get(fn)
        if not callable(func):
            _progress(client, stage="undefined", fn=fn)
            continue
        _progress(client, stage="function", fn=fn)
        expired = []

        def guarded(*args, _func=func, _expired=expired):
            if _expired:
                raise StepTimeout(f"took longer than {timeout:g} s")
            return _func(*args)

        def on_fn_alarm(signum, frame, _expired=expired):
            _expired.append(True)
            raise StepTimeout(f"took longer than {timeout:g} s")

        signal.signal(signal.SIGALRM, on_fn_alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            grading.remote_check(fn, guarded, ns, socket_path, client=client)
        except BaseException:
            pass
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    _progress(client, stage="done")
    client.close()
    os._exit(0)


if __name__ == "__main__":
    main()
