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
  variants of the reference (one catalogued mistake, or two made together):
  once for the function when one explanation covers every wrong output, else
  per group of outputs; :class:`Diagnosis` holds the verdicts and the labels
  named as plain data;
* returns the points earned, which nbgrader takes as partial credit, and
  raises when nothing is right. Nothing is written to stderr.

Two modes, one code path for running the student's function:

* local (stock ``nbgrader autograde``, no ``RNNCOURSE_JUDGE``): reference
  arrays from ``rnncourse/data`` and the reference cell from the master
  notebook, in the kernel;
* remote (``make grade``: ``RNNCOURSE_JUDGE`` names the judge's Unix socket,
  :mod:`rnncourse.verdicts.judge`): the kernel is confined and holds no reference data.
  It asks the judge for the test inputs, runs the student's function on them
  (a sequence function calls a stub that asks the judge to run the reference
  cell), sends back plain float64 arrays (:mod:`rnncourse.client.wire`, no pickle) and
  receives the points, the report and the record, computed by the same
  :func:`compare`.

Either way :func:`check` shows the machine-readable record of the verdict
(:mod:`rnncourse.verdicts.diagnosis`) as a display output of its own, with a MIME type
no renderer shows, before the report is printed or raised; the report's text
is for people only.

This module imports ``refdata``, ``reference`` and ``mistakes`` only on the
trusted side (local mode, or in the judge): the confined copy of the package
holds only ``__init__``, this module and ``rnncourse/client/`` (``.importlinter`` checks it).
"""

import contextlib
import copy
import io
import os
import warnings
from dataclasses import dataclass, field

import numpy as np

from rnncourse.client import nested, testcases

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
    dep = testcases.DEPENDS.get(fn)
    if dep is None:
        yield
        return
    if impl is None:
        from rnncourse.content import reference

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
        err = testcases.OutputError(f"{fn} is not implemented yet (it raised NotImplementedError)")
        return {k: err for k in shapes}
    except Exception as exc:  # any failure of student code is reported, never raised
        err = testcases.OutputError(f"{fn} raised {type(exc).__name__}: {exc}")
        return {k: err for k in shapes}
    return testcases.normalise(fn, result, shapes)


@dataclass
class Diagnosis:
    """What is wrong with one function: per output a verdict, and the mistakes named.

    Attributes
    ----------
    fn : str
        Function name.
    outputs : dict
        Output name -> ``None`` when right in every case, else what is wrong
        (which case, by how much; never a reference value).
    named : list of list of str
        Explanations of every wrong output at once, as alternatives: each a
        list of mistake labels of :mod:`rnncourse.content.mistakes` made together (one
        label, or two for a combination). Empty when nothing explains them all.
    by_output : dict
        Output name -> alternatives (as in ``named``) for the wrong outputs that
        ``named`` does not cover.
    """

    fn: str
    outputs: dict
    named: list = field(default_factory=list)
    by_output: dict = field(default_factory=dict)

    def mistakes(self):
        """Every mistake label named, in catalogue order of first mention."""
        seen = []
        for alternatives in [self.named, *self.by_output.values()]:
            for labels in alternatives:
                seen.extend(label for label in labels if label not in seen)
        return seen

    def to_dict(self):
        return {"fn": self.fn, "outputs": dict(self.outputs),
                "named": [list(x) for x in self.named],
                "by_output": {k: [list(x) for x in v] for k, v in self.by_output.items()},
                "mistakes": self.mistakes()}

    @classmethod
    def from_dict(cls, d):
        return cls(str(d["fn"]), {str(k): (None if v is None else str(v)) for k, v in d["outputs"].items()},
                   [[str(x) for x in alt] for alt in d.get("named", [])],
                   {str(k): [[str(x) for x in alt] for alt in v] for k, v in d.get("by_output", {}).items()})

    # A Diagnosis reads like its ``outputs`` dict (``report`` and older callers).
    def items(self):
        return self.outputs.items()

    def values(self):
        return self.outputs.values()

    def __len__(self):
        return len(self.outputs)


def _wrong_values(i, got, exp, key):
    err = float(np.max(np.abs(got - exp)))
    where = f"the {exp.size} numbers of its arrays" if key.startswith("cache") else f"shape {exp.shape}"
    return f"wrong values in test case {i + 1} ({where}): max abs error {err:.3g}"


def compare(fn, data, got_all):
    """The :class:`Diagnosis` of the student's outputs ``got_all`` (trusted side).

    Parameters
    ----------
    fn : str
        Function name.
    data : list of dict
        The reference cases of ``fn`` (``refdata.load()[fn]``): ``"expected"``
        and ``"mistakes"`` arrays per case (a mistake's arrays only where they
        differ from the expected ones).
    got_all : list of dict
        Per case, output name -> normalised float64 array or ``OutputError``.

    Notes
    -----
    A catalogued mistake (or pair of mistakes made together) *explains* an
    output when the student's output equals the mistaken reference's in every
    case. One that explains every output the student returned, right and
    wrong, is named once for the function; a single mistake is preferred to a
    pair. Otherwise each wrong output is explained on its own, and outputs
    with the same explanation are named together.
    """
    outputs = {k: None for k in testcases.OUTPUTS[fn]}
    for k in outputs:
        for i, (case, got) in enumerate(zip(data, got_all)):
            g, exp = got[k], case["expected"][k]
            if isinstance(g, testcases.OutputError):
                outputs[k] = str(g)
                break
            if not testcases.matches(g, exp):
                outputs[k] = _wrong_values(i, g, exp, k)
                break
    diag = Diagnosis(fn, outputs)
    wrong = [k for k, v in outputs.items() if v is not None and k not in _errors(got_all)]
    if not wrong:
        return diag
    arrays = [k for k in outputs if k not in _errors(got_all)]
    labels = list(data[0]["mistakes"])

    def explains(label, k):
        return all(testcases.matches(got[k], case["mistakes"].get(label, {}).get(k, case["expected"][k]))
                   for case, got in zip(data, got_all))

    for single in (True, False):
        group = [x for x in labels if (_PAIR not in x) == single]
        diag.named = [x.split(_PAIR) for x in group if all(explains(x, k) for k in arrays)]
        if diag.named:
            return diag
    for k in wrong:
        touching = [x for x in labels if any(k in c["mistakes"].get(x, {}) for c in data)]
        found = [x for x in touching if _PAIR not in x and explains(x, k)] or \
                [x for x in touching if _PAIR in x and explains(x, k)]
        if found:
            diag.by_output[k] = [x.split(_PAIR) for x in found]
    return diag


_PAIR = "+"  # as rnncourse.content.mistakes.PAIR (not imported here: the confined copy lacks it)


def _errors(got_all):
    return {k for got in got_all for k, v in got.items() if isinstance(v, testcases.OutputError)}


def diagnose(fn, data, func, namespace):
    """The :class:`Diagnosis` of the student's ``func`` (runs it here)."""
    return compare(fn, data, [run_case(fn, func, namespace, case) for case in data])


def _explanation(fn, alternatives):
    from rnncourse.content import mistakes  # trusted side only

    texts = []
    for labels in alternatives:
        ms = [mistakes.by_label(fn, label) for label in labels]
        texts.append(ms[0].message if len(ms) == 1 else
                     "two mistakes together: " + "; and ".join(m.message for m in ms))
    return "; or ".join(texts) + "."


def report(fn, verdicts):
    """``(points, n_ok, text)`` of a function's :class:`Diagnosis` (or plain per-output verdicts).

    The text says which outputs are wrong and by how much, then names the
    mistakes: once for the function when one explanation covers every wrong
    output, else once per group of outputs that share an explanation. The
    machine-readable record of the same verdicts is :func:`record`'s.
    """
    n_ok = sum(v is None for v in verdicts.values())
    lines = [f"{fn}: {n_ok} of {len(verdicts)} outputs correct"]
    for k, v in verdicts.items():
        lines.append(f"  [{'ok' if v is None else 'XX'}] {k}" + ("" if v is None else f": {v}"))
    if any(v is not None and v.startswith("wrong values") for v in verdicts.values()):
        lines.append(f"  (right means within {testcases.ATOL:g} + {testcases.RTOL:g} * |expected| "
                     "everywhere)")
    named = getattr(verdicts, "named", None)
    if named:
        lines.append("  This looks like: " + _explanation(fn, named))
    groups = {}
    for k, alternatives in getattr(verdicts, "by_output", {}).items():
        groups.setdefault(tuple(map(tuple, alternatives)), []).append(k)
    for alternatives, keys in groups.items():
        lines.append(f"  {', '.join(keys)} {'looks' if len(keys) == 1 else 'look'} like: "
                     + _explanation(fn, alternatives))
    return round(testcases.POINTS[fn] * n_ok / len(verdicts), 4), n_ok, "\n".join(lines)


class HiddenTestFailure(AssertionError):
    """A hidden test found nothing right; IPython shows its report alone.

    nbgrader scores a cell with an error output 0, as for any exception; the
    feedback then shows ``_render_traceback_``'s lines (the report) in place of
    a traceback, so no line or path of the grading code reaches the student.
    """

    def _render_traceback_(self):
        return [f"{type(self).__name__}: {self}"]


def record(fn, verdicts):
    """The machine-readable record of a report's verdicts, as a dict (trusted side).

    See :func:`rnncourse.verdicts.diagnosis.from_verdicts`; the class report reads it.
    """
    from rnncourse.verdicts import diagnosis

    return diagnosis.from_verdicts(fn, verdicts).to_dict()


_RECORD_MIME = "application/vnd.rnncourse.diagnosis+json"
# as rnncourse.verdicts.diagnosis.MIME (not imported here: the confined copy lacks it)


def _show_record(data):
    """Display ``data`` (a record dict) with :data:`_RECORD_MIME` only, when running under IPython.

    Nothing renders that type, so the student sees nothing; nbgrader's scoring
    ignores display outputs. In plain Python (no IPython shell) nothing is shown.
    """
    if not isinstance(data, dict):
        return
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return
    if get_ipython() is not None:
        display({_RECORD_MIME: data}, raw=True)


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
        from rnncourse.content import refdata

        verdicts = diagnose(fn, refdata.load()[fn], func, namespace)
        points, n_ok, text = report(fn, verdicts)
        data = record(fn, verdicts)
    _show_record(data)
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
    """One connection to the judge (see :mod:`rnncourse.verdicts.judge` for the rules it enforces)."""

    def __init__(self, socket_path, timeout=120.0, limit=64 * 1024 ** 2):
        import socket

        self.limit = limit
        self._signatures = {}
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(socket_path)
        except OSError as exc:
            self.sock.close()
            raise JudgeError(f"cannot reach the grading judge at {socket_path}: {exc}",
                             "the grading service could not be reached") from None

    def request(self, header, payload=None, shared=()):
        """Send one request; ``(reply, payload)`` back. ``shared``: objects the reply may name."""
        from rnncourse.client import wire

        wire.send(self.sock, header, payload)
        reply, data = wire.recv(self.sock, self.limit, shared)
        if not reply.get("ok"):
            raised = _rebuild(reply.get("raised"))
            if raised is not None:
                raise raised
            message = str(reply.get("error", "the judge refused the request"))
            raise JudgeError(message, f"the grading service refused: {message}")
        return reply, data

    def begin(self, fn):
        """The test cases of ``fn``: a list of ``{"inputs": [...], "shapes": {...}}``."""
        reply, inputs = self.request({"op": "begin", "fn": fn})
        if testcases.DEPENDS.get(fn) and isinstance(reply.get("signature"), list):
            self._signatures[testcases.DEPENDS[fn]] = reply["signature"]
        return [{"inputs": list(i), "shapes": s} for i, s in zip(inputs, reply["shapes"])]

    def stub(self, dep):
        """A stand-in for the reference ``dep`` that has the judge run it.

        It has the reference's own signature (sent by the judge with the test
        cases), so positional, keyword and mixed calls, ``functools.partial``
        and ``*args``/``**kwargs`` bind as they would on the reference, and a
        wrong call raises the reference's own ``TypeError``. What it returns
        holds the caller's own objects where the reference's result would (a
        cache keeps the very ``xt`` view and ``parameters`` dict passed in).
        """
        signature = self._signatures.get(dep) or [[n, "pk", False, None] for n in testcases.ARGS[dep]]

        def call(values):
            return self.request({"op": "ref", "fn": dep}, values, shared=nested.nodes(values))[1]

        return stand_in(dep, signature, call)

    def submit(self, fn, got_all):
        """Send the normalised outputs; ``(points, n_ok, report, record)`` back.

        ``record``: the judge's machine-readable record of the verdict (a dict,
        see :func:`record`), or None when the reply holds none.
        """
        sent = [{k: (v if isinstance(v, np.ndarray) else str(v)) for k, v in got.items()}
                for got in got_all]
        reply, _ = self.request({"op": "submit", "fn": fn}, sent)
        data = reply.get("diagnosis")
        return (float(reply["points"]), int(reply["n_ok"]), str(reply["report"]),
                data if isinstance(data, dict) else None)

    def close(self):
        self.sock.close()


_CALL = "_rnncourse_judge_call"


def stand_in(name, signature, call):
    """A function called ``name`` with ``signature`` (``judge.signature``) that returns ``call(values)``.

    ``values``: the bound arguments in signature order, defaults filled in.
    Binding is Python's own, so errors of a wrong call read as on the real function.
    """
    import keyword

    parts, names, defaults, kwdefaults, star, slash = [], [], [], {}, False, False
    for item in signature:
        pname, kind, has_default, default = item
        if not (isinstance(pname, str) and pname.isidentifier() and not keyword.iskeyword(pname)
                and not pname.startswith("_rnncourse") and kind in ("p", "pk", "k")):
            raise JudgeError(f"the judge sent an unusable signature for {name}")
        if kind != "p" and not slash and any(k == "p" for _, k, _, _ in signature):
            parts.append("/")
            slash = True
        if kind == "k" and not star:
            parts.append("*")
            star = True
        parts.append(pname)
        names.append(pname)
        if has_default:
            if kind == "k":
                kwdefaults[pname] = default
            else:
                defaults.append(default)
    if not slash and signature and all(k == "p" for _, k, _, _ in signature):
        parts.append("/")
    if not (isinstance(name, str) and name.isidentifier()):
        raise JudgeError(f"cannot stand in for {name!r}")
    source = f"def {name}({', '.join(parts)}):\n    return {_CALL}([{', '.join(names)}])\n"
    scope = {_CALL: call, "__builtins__": {}}
    exec(compile(source, f"<judge stand-in for {name}>", "exec"), scope)
    func = scope[name]
    func.__defaults__ = tuple(defaults) or None
    func.__kwdefaults__ = kwdefaults or None
    func.__module__ = "__main__"
    return func


def _rebuild(raised):
    """The built-in exception the reference raised (``judge._raised``), or None."""
    import builtins

    if not (isinstance(raised, list) and len(raised) == 2 and isinstance(raised[0], str)
            and isinstance(raised[1], list)):
        return None
    cls = getattr(builtins, raised[0], None)
    if not (isinstance(cls, type) and issubclass(cls, Exception)):
        return None
    try:
        return cls(*raised[1])
    except Exception:
        return None


def remote_check(fn, func, namespace, socket_path, client=None):
    """Run ``func`` on the judge's inputs and let the judge grade them: ``(points, n_ok, report, record)``.

    ``client``: an open :class:`JudgeClient` to use (and leave open); by
    default a new connection to ``socket_path``.
    """
    own = client is None
    if own:
        client = JudgeClient(socket_path)
    try:
        data = client.begin(fn)
        dep = testcases.DEPENDS.get(fn)
        stub = client.stub(dep) if dep else None
        got_all = [run_case(fn, func, namespace, case, stub) for case in data]
        return client.submit(fn, got_all)
    finally:
        if own:
            client.close()
