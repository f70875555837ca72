"""The hidden test cells' module: ``from rnncourse.grading import check``.

A hidden test cell holds one line, ``check("rnn_forward", globals())``, so
nothing of the reference shows in feedback. Every graded notebook names this
module, so it stays at this path; it only chooses the mode and shows the
outcome. ``check``

* grades the student's function on the reference's test inputs, a sequence
  function with the stand-in for the reference cell it calls, a backward
  pass with reference caches, so one mistake costs points once
  (:func:`rnncourse.client.runcase.run_case`, the one code path for running
  the student's function);
* compares every output, type and shape first, within a stated tolerance,
  and names typical mistakes (:func:`rnncourse.verdicts.verdict.compare`);
* shows the machine-readable record of the verdict as a display output no
  renderer shows, then prints the report and returns the points earned
  (nbgrader's partial credit), or raises :class:`HiddenTestFailure` with the
  report when nothing is right. Nothing is written to stderr.

Two modes:

* remote (``make grade``: ``RNNCOURSE_JUDGE`` names the judge's Unix socket):
  the kernel is confined and holds no reference data; the judge sends the
  inputs, runs the reference cell for the stand-in, compares and reports
  (:mod:`rnncourse.client.judge_client`).
* local (stock ``nbgrader autograde``, no ``RNNCOURSE_JUDGE``): the reference
  arrays and the reference cell are read in the kernel
  (:func:`rnncourse.verdicts.verdict.local_check`).

This module and the client it imports are the confined copy of the package
(``rnncourse.client.files()``). Local mode's one import of the trusted side,
:mod:`rnncourse.verdicts.verdict`, is made inside :func:`check` and only in
local mode: the confined copy does not hold it, so there it fails by design
(``.importlinter`` lists it as the hidden-cell contract's one exception).
"""

import os

from rnncourse.client.feedback import HiddenTestFailure, show_record
from rnncourse.client.judge_client import JUDGE_ENV, JudgeError, remote_check

__all__ = ["JUDGE_ENV", "HiddenTestFailure", "check"]


def check(fn, namespace):
    """Grade the student's ``fn`` found in ``namespace``; return the points earned.

    Raises
    ------
    HiddenTestFailure
        When no output of ``fn`` is right (0 points), with the report.
    """
    func = namespace.get(fn)
    if not callable(func):
        raise HiddenTestFailure(f"{fn} is not defined: run the cell that defines it, then this one.")
    socket_path = os.environ.get(JUDGE_ENV)
    if socket_path:
        try:
            points, n_ok, text, data = remote_check(fn, func, namespace, socket_path)
        except (JudgeError, OSError) as exc:  # OSError: the connection, never the student's code
            reason = getattr(exc, "reason", "the grading service could not be reached")
            raise HiddenTestFailure(f"{fn} could not be graded in this run ({reason}); "
                                    "ask your instructor.") from None
    else:
        from rnncourse.verdicts.verdict import local_check  # trusted side: not in the confined copy

        points, n_ok, text, data = local_check(fn, func, namespace)
    show_record(data)
    if n_ok == 0:
        raise HiddenTestFailure(text)
    print(text)
    return points
