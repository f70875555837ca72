"""Remote mode, the confined side: one connection to the judge, and the stand-in it serves.

Under ``make grade`` the kernel is confined and holds no reference data;
``JUDGE_ENV`` names the judge's Unix socket (:mod:`rnncourse.verdicts.judge`).
:func:`remote_check` asks the judge for the test inputs, runs the student's
function on them (:func:`rnncourse.client.runcase.run_case`; a sequence
function calls the *stand-in* for its reference cell, which asks the judge to
run it), sends back plain float64 arrays (:mod:`rnncourse.client.wire`, no
pickle) and receives the points, the report and the record.
"""

import numpy as np

from rnncourse.client import nested, testcases, wire
from rnncourse.client.runcase import run_case

JUDGE_ENV = "RNNCOURSE_JUDGE"
"""Environment variable naming the judge's Unix socket (remote mode)."""

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

    def stand_in(self, dep):
        """The stand-in for the reference ``dep``: a function that has the judge run it.

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

        return make_stand_in(dep, signature, call)

    def submit(self, fn, got_all):
        """Send the normalised outputs; ``(points, n_ok, report, record)`` back.

        ``record``: the judge's machine-readable record of the verdict (a dict,
        see :func:`rnncourse.verdicts.verdict.record`), or None when the reply holds none.
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


def make_stand_in(name, signature, call):
    """A stand-in called ``name`` with ``signature`` (``judge.signature``) that returns ``call(values)``.

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
        stand_in = client.stand_in(dep) if dep else None
        got_all = [run_case(fn, func, namespace, case, stand_in) for case in data]
        return client.submit(fn, got_all)
    finally:
        if own:
            client.close()
