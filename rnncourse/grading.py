"""Hidden-test checks, called from the graded cells of the notebook.

A hidden test cell holds one line, ``check("rnn_forward", globals())``, so
nothing of the reference shows in feedback. ``check``

* takes the inputs and expected outputs from the reference arrays (computed
  before the student's code runs), and passes the student's function copies;
* grades a sequence function with the reference cell in its place, and a
  backward pass with reference caches, so one mistake costs points once;
* turns every output into a plain float64 array (type and shape checked
  first) and compares it within a stated tolerance;
* names typical mistakes by comparing with the outputs of known-wrong
  variants of the reference;
* returns the points earned, which nbgrader takes as partial credit, and
  raises when nothing is right. Nothing is written to stderr.

Two modes, one code path for running the student's function:

* local (stock ``nbgrader autograde``, no ``RNNCOURSE_JUDGE``): reference
  arrays from ``rnncourse/data`` and the reference cell from the master
  notebook, in the kernel;
* remote (``make grade``: ``RNNCOURSE_JUDGE`` names the judge's Unix socket,
  :mod:`rnncourse.judge`): the kernel is confined and holds no reference data.
  It asks the judge for the test inputs, runs the student's function on them
  (a sequence function calls a stub that asks the judge to run the reference
  cell), sends back plain float64 arrays (:mod:`rnncourse.wire`, no pickle) and
  receives the points and the report, computed by the same :func:`compare`.

This module imports ``refdata``, ``reference`` and ``mistakes`` only on the
trusted side (local mode, or in the judge): the confined copy of the package
holds only ``__init__``, ``cases``, ``tree``, ``wire`` and this module.
"""

import contextlib
import copy
import io
import os
import warnings

import numpy as np

from . import cases

JUDGE_ENV = "RNNCOURSE_JUDGE"
"""Environment variable naming the judge's Unix socket (remote mode)."""


@contextlib.contextmanager
def _quiet():
    """Silence warnings and stray prints of the student's code (stderr zeroes a cell)."""
    sink = io.StringIO()
    with warnings.catch_warnings(), np.errstate(all="ignore"), \
            contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        warnings.simplefilter("ignore")
        yield


@contextlib.contextmanager
def _reference_cell(fn, namespace, impl=None):
    """Put the reference cell (or ``impl``, the judge's stub) in the namespace while ``fn`` is graded."""
    dep = cases.DEPENDS.get(fn)
    if dep is None:
        yield
        return
    if impl is None:
        from . import reference

        impl = getattr(reference.load(), dep)
    missing = object()
    saved = namespace.get(dep, missing)
    namespace[dep] = impl
    try:
        yield
    finally:
        if saved is missing:
            namespace.pop(dep, None)
        else:
            namespace[dep] = saved


def run_case(fn, func, namespace, case, dep_impl=None):
    """Outputs of the student's ``func`` on one test case (normalised), or one error for all.

    ``case`` holds ``"inputs"`` and either ``"expected"`` (arrays) or
    ``"shapes"`` (output name -> expected shape); ``dep_impl`` replaces the
    reference cell of a sequence function (remote mode).
    """
    if "shapes" in case:
        shapes = {k: tuple(v) for k, v in case["shapes"].items()}
    else:
        shapes = {k: v.shape for k, v in case["expected"].items()}
    try:
        with _quiet(), _reference_cell(fn, namespace, dep_impl):
            result = func(*copy.deepcopy(case["inputs"]))
    except NotImplementedError:
        err = cases.OutputError(f"{fn} is not implemented yet (it raised NotImplementedError)")
        return {k: err for k in shapes}
    except Exception as exc:  # any failure of student code is reported, never raised
        err = cases.OutputError(f"{fn} raised {type(exc).__name__}: {exc}")
        return {k: err for k in shapes}
    return cases.normalise(fn, result, shapes)


def compare(fn, data, got_all):
    """Per output: ``None`` when right in every case, else a message (trusted side).

    Parameters
    ----------
    fn : str
        Function name.
    data : list of dict
        The reference cases of ``fn`` (``refdata.load()[fn]``): ``"expected"``
        and ``"mistakes"`` arrays per case.
    got_all : list of dict
        Per case, output name -> normalised float64 array or ``OutputError``.
    """
    verdicts = {k: None for k in cases.OUTPUTS[fn]}
    for k in verdicts:
        for i, (case, got) in enumerate(zip(data, got_all)):
            g, exp = got[k], case["expected"][k]
            if isinstance(g, cases.OutputError):
                verdicts[k] = str(g)
                break
            if not cases.matches(g, exp):
                err = float(np.max(np.abs(g - exp)))
                where = (f"the {exp.size} numbers of its arrays" if k.startswith("cache")
                         else f"shape {exp.shape}")
                verdicts[k] = (f"wrong values in test case {i + 1} ({where}): "
                               f"max abs error {err:.3g}, tolerance {cases.ATOL:g} + "
                               f"{cases.RTOL:g} * |expected|")
                named = [label for label in _labels(data, k)
                         if all(isinstance(gg[k], np.ndarray) and
                                cases.matches(gg[k], c["mistakes"].get(label, {}).get(k, c["expected"][k]))
                                for c, gg in zip(data, got_all))]
                if named:
                    verdicts[k] += "\n      This looks like: " + "; or ".join(
                        _message(fn, label) for label in named) + "."
                break
    return verdicts


def diagnose(fn, data, func, namespace):
    """Per output: ``None`` when right in every case, else a message (runs ``func`` here)."""
    return compare(fn, data, [run_case(fn, func, namespace, case) for case in data])


def _labels(data, key):
    return [label for label in data[0]["mistakes"]
            if any(key in c["mistakes"].get(label, {}) for c in data)]


def _message(fn, label):
    from .mistakes import MISTAKES  # trusted side only

    return next(m.message for m in MISTAKES if m.fn == fn and m.label == label)


def report(fn, verdicts):
    """``(points, n_ok, text)`` of a function's verdicts."""
    n_ok = sum(v is None for v in verdicts.values())
    lines = [f"{fn}: {n_ok} of {len(verdicts)} outputs correct"]
    for k, v in verdicts.items():
        lines.append(f"  [{'ok' if v is None else 'XX'}] {k}" + ("" if v is None else f": {v}"))
    return round(cases.POINTS[fn] * n_ok / len(verdicts), 4), n_ok, "\n".join(lines)


class HiddenTestFailure(AssertionError):
    """A hidden test found nothing right; IPython shows its report alone.

    nbgrader scores a cell with an error output 0, as for any exception; the
    feedback then shows ``_render_traceback_``'s lines (the report) in place of
    a traceback, so no line or path of the grading code reaches the student.
    """

    def _render_traceback_(self):
        return [f"{type(self).__name__}: {self}"]


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
            points, n_ok, text = remote_check(fn, func, namespace, socket_path)
        except (JudgeError, OSError) as exc:  # OSError: the connection, never the student's code
            reason = getattr(exc, "reason", "the grading service could not be reached")
            raise HiddenTestFailure(f"{fn} could not be graded in this run ({reason}); "
                                    "ask your instructor.") from None
    else:
        from . import refdata

        points, n_ok, text = report(fn, diagnose(fn, refdata.load()[fn], func, namespace))
    if n_ok == 0:
        raise HiddenTestFailure(text)
    print(text)
    return points


# ---------------------------------------------------------------- remote mode (client side)
class JudgeError(Exception):
    """The judge refused a request or could not be reached.

    ``reason`` is a short phrase without paths, fit for the student's feedback.
    """

    def __init__(self, message, reason="the grading service failed"):
        super().__init__(message)
        self.reason = reason


class JudgeClient:
    """One connection to the judge (see :mod:`rnncourse.judge` for the rules it enforces)."""

    def __init__(self, socket_path, timeout=120.0, limit=64 * 1024 ** 2):
        import socket

        self.limit = limit
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(socket_path)
        except OSError as exc:
            self.sock.close()
            raise JudgeError(f"cannot reach the grading judge at {socket_path}: {exc}",
                             "the grading service could not be reached") from None

    def request(self, header, payload=None):
        from . import wire

        wire.send(self.sock, header, payload)
        reply, data = wire.recv(self.sock, self.limit)
        if not reply.get("ok"):
            message = str(reply.get("error", "the judge refused the request"))
            raise JudgeError(message, f"the grading service refused: {message}")
        return reply, data

    def begin(self, fn):
        """The test cases of ``fn``: a list of ``{"inputs": [...], "shapes": {...}}``."""
        reply, inputs = self.request({"op": "begin", "fn": fn})
        return [{"inputs": list(i), "shapes": s} for i, s in zip(inputs, reply["shapes"])]

    def stub(self, dep):
        """A stand-in for the reference ``dep`` that has the judge run it."""
        def reference_cell(*args):
            return self.request({"op": "ref", "fn": dep}, list(args))[1]

        reference_cell.__name__ = dep
        return reference_cell

    def submit(self, fn, got_all):
        """Send the normalised outputs; ``(points, n_ok, report)`` back."""
        sent = [{k: (v if isinstance(v, np.ndarray) else str(v)) for k, v in got.items()}
                for got in got_all]
        reply, _ = self.request({"op": "submit", "fn": fn}, sent)
        return float(reply["points"]), int(reply["n_ok"]), str(reply["report"])

    def close(self):
        self.sock.close()


def remote_check(fn, func, namespace, socket_path, client=None):
    """Run ``func`` on the judge's inputs and let the judge grade the outputs.

    ``client``: an open :class:`JudgeClient` to use (and leave open); by
    default a new connection to ``socket_path``.
    """
    own = client is None
    if own:
        client = JudgeClient(socket_path)
    try:
        data = client.begin(fn)
        dep = cases.DEPENDS.get(fn)
        stub = client.stub(dep) if dep else None
        got_all = [run_case(fn, func, namespace, case, stub) for case in data]
        return client.submit(fn, got_all)
    finally:
        if own:
            client.close()
