"""Running the student's function on one test case, beside student code (confined side).

:func:`run_case` is the one code path for running a student's function, in
every mode: local (stock ``nbgrader autograde``, the reference in the kernel),
remote (the confined kernel under ``make grade``) and the re-check. A sequence
function is graded with a *stand-in* for the reference cell it calls
(``testcases.DEPENDS``): the reference cell itself in local mode, a function
that has the judge run it in remote mode and the re-check
(:meth:`rnncourse.client.judge_client.JudgeClient.stand_in`). The caller hands
the stand-in in; this module never reaches the reference.
"""

import contextlib
import copy
import io
import warnings

import numpy as np

from rnncourse.client import testcases


@contextlib.contextmanager
def quiet():
    """Silence warnings and stray prints of the student's code (stderr zeroes a cell)."""
    sink = io.StringIO()
    with warnings.catch_warnings(), np.errstate(all="ignore"), \
            contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        warnings.simplefilter("ignore")
        yield


@contextlib.contextmanager
def _with_stand_in(fn, namespace, stand_in):
    """Put ``stand_in`` in ``namespace`` under the name of the cell ``fn`` calls while ``fn`` is graded."""
    dep = testcases.DEPENDS.get(fn)
    if dep is None:
        yield
        return
    missing = object()
    saved = namespace.get(dep, missing)
    namespace[dep] = stand_in
    try:
        yield
    finally:
        if saved is missing:
            namespace.pop(dep, None)
        else:
            namespace[dep] = saved


def run_case(fn, func, namespace, case, stand_in=None):
    """Outputs of the student's ``func`` on one test case (normalised), or one error for all.

    Parameters
    ----------
    fn : str
        Function name.
    func : callable
        The student's function (found in ``namespace``).
    namespace : dict
        The student's globals.
    case : dict
        ``"inputs"`` and either ``"expected"`` (arrays) or ``"shapes"``
        (output name -> expected shape).
    stand_in : callable, optional
        The stand-in for the reference cell ``fn`` calls (required when
        ``testcases.DEPENDS`` names one), put in ``namespace`` meanwhile.

    Returns
    -------
    dict
        Output name -> float64 array of the expected shape, or
        ``testcases.OutputError``.
    """
    if testcases.DEPENDS.get(fn) and not callable(stand_in):
        raise ValueError(f"{fn} calls {testcases.DEPENDS[fn]}: pass the stand-in for it")
    if "shapes" in case:
        shapes = {k: tuple(v) for k, v in case["shapes"].items()}
    else:
        shapes = {k: v.shape for k, v in case["expected"].items()}
    try:
        with quiet(), _with_stand_in(fn, namespace, stand_in):
            result = func(*copy.deepcopy(case["inputs"]))
    except NotImplementedError:
        err = testcases.OutputError(f"{fn} is not implemented yet (it raised NotImplementedError)")
        return {k: err for k in shapes}
    except Exception as exc:  # any failure of student code is reported, never raised
        err = testcases.OutputError(f"{fn} raised {type(exc).__name__}: {exc}")
        return {k: err for k in shapes}
    return testcases.normalise(fn, result, shapes)
