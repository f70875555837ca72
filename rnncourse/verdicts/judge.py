"""The judge: the trusted side of remote grading, reached over a Unix socket.

Confined code (a grading kernel, or the re-check process) holds no reference
data. For each function it asks the judge for the test inputs, runs the
student's function, and sends back plain float64 arrays; the judge compares
them with the reference arrays (:func:`rnncourse.verdicts.verdict.compare`, the same
diagnosis as local mode) and answers with the points and the report.

Rules, per judge (one judge per submission and process):

* one function active at a time (beginning another abandons the active one,
  which then scores 0 "did not finish");
* each function begun at most once;
* with ``strict_order`` (the re-check), functions may only be begun in the
  order of :data:`rnncourse.FUNCTIONS`, so every reference cell a sequence
  function may call belongs to a function that was already graded;
* the reference cell (``testcases.DEPENDS``) runs only while its sequence function
  is active, at most a few times the calls a correct solution needs when it
  calls the cell once per example and time step, on arguments no bigger than
  the test inputs, and with values only on what is derivable from that
  function's test case, column by column (:mod:`rnncourse.verdicts.reachable`): each column
  of the call is one example's column of a time step of ``x`` with the
  parameters, or of a cell cache, and its running state (``a_prev``,
  ``c_prev``) or upstream gradients (``da_next``, ``dc_next``) what a
  sequence pass reaches for that example: the initial state or zeros,
  ``da[:, i, t]``, what the reference cell returned for it before in this
  check, or their sum. So the whole batch, one example at a time, or any
  subset of examples is answered, and it cannot be used to compute answers
  for other functions (a free ``a_prev`` would let the reference cell
  evaluate the cell function at any input, by solving for the
  pre-activation). The reference runs first, so a call that fails on it
  (a wrong shape) raises its own error, whatever the values; a well-formed
  call on anything else (a sanity check on random arrays) is answered with
  the reference's result with NaN in place of every value it computed
  (:func:`rnncourse.verdicts.reachable.withheld`), noted, and named in one
  line of the function's report: it learns what a refusal would tell, and
  the outputs that do not depend on it score as in stock nbgrader;
* replies send views as views (:mod:`rnncourse.client.wire`): ``da_prev`` and
  ``dxt`` come back sharing one buffer, as in the kernel;
* in a re-check (:meth:`Judge.plan`), the judge decides what the driver does
  next: ``next`` hands out the next step (a cell's source, or a function with
  its test inputs) and records it as the current one; the driver claims
  nothing, so nothing the student's code sends can misplace a step (a forged
  ``next`` only skips steps of its own submission), and a malformed or
  unknown message is refused and noted, never believed;
* every message is size-limited and decoded without pickle
  (:mod:`rnncourse.client.wire`); at most a few connections at once, a bounded
  number of messages in all.
"""

import builtins
import copy
import inspect
import os
import socket
import tempfile
import threading
import time

import numpy as np

from rnncourse import FUNCTIONS
from rnncourse.client import nested, testcases, wire
from rnncourse.verdicts import reachable, verdict

SOCKET_NAME = "judge.sock"
MAX_CONNECTIONS = 4
MAX_MESSAGES = 5000
ORACLE_FACTOR = 3


class Judge:
    """A judge serving one submission.

    Parameters
    ----------
    directory : str or Path, optional
        Host directory for the socket (a fresh private one by default); give it
        to :class:`rnncourse.sandbox.Sandbox` as ``judge_dir``.
    owner : int, optional
        uid (and gid) allowed to connect (the sandbox's ``uid``): the socket is
        made theirs with mode 0600. By default only this process's user.
    limits : Limits or dict, optional
        ``message_bytes`` bounds every message.
    strict_order : bool
        Functions must be begun in course order (the re-check sets it).
    exclusive : bool
        Only the grader's connection may begin, run the reference cell and
        submit: the first one, or the first after :meth:`expect_grader` (the
        re-check sets it: its driver connects before any student code runs).
    data, ref : optional
        Reference cases (``refdata.load()``) and reference module
        (``reference.load()``); loaded on first use by default.
    """

    def __init__(self, directory=None, owner=None, limits=None, strict_order=False, data=None, ref=None,
                 exclusive=False):
        from rnncourse.sandbox import Limits

        self.limits = Limits.from_dict(limits)
        self._own_dir = directory is None
        self.directory = os.fspath(directory) if directory else tempfile.mkdtemp(prefix="rnncourse-judge-")
        os.chmod(self.directory, 0o755)
        self.socket_path = os.path.join(self.directory, SOCKET_NAME)
        self.owner = owner
        self.strict_order = strict_order
        self.exclusive = exclusive
        self._grader = 1
        self._connections = 0
        self._data, self._ref = data, ref
        self._lock = threading.Lock()
        self._server = None
        self._threads = []
        self._open = 0
        self._messages = 0
        self.active = None
        self.begun = []
        self.results = {}  # fn -> {"points", "n_ok", "report", "mistakes": [labels named],
        #                          "diagnosis": verdict.record's dict}
        self.events = []
        self._oracle_calls = 0
        self._off_case_calls, self._off_case_notes = 0, set()
        self._oracle_budget = 0
        self._oracle_bytes = 0
        self._reached = []
        self._signature = None  # the reference cell's, read once per function checked
        self.progress = None
        self.progress_time = time.monotonic()
        self.undefined = set()
        self._steps = None

    # -------------------------------------------------------------- data
    @property
    def data(self):
        if self._data is None:
            from rnncourse.content import refdata

            self._data = refdata.load()
        return self._data

    @property
    def ref(self):
        if self._ref is None:
            from rnncourse.content import reference

            self._ref = reference.load()
        return self._ref

    # -------------------------------------------------------------- server
    def start(self):
        """Listen on :attr:`socket_path` (a daemon thread accepts connections)."""
        self.data  # noqa: B018 (load before any client waits on it)
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(self.socket_path)
        if self.owner is not None:
            os.chown(self.socket_path, self.owner, self.owner)
        os.chmod(self.socket_path, 0o600)
        srv.listen(MAX_CONNECTIONS)
        self._server = srv
        t = threading.Thread(target=self._accept, args=(srv,), name="rnncourse-judge", daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def _accept(self, srv):
        # ``srv``, not ``self._server``: close() sets that to None while we may be waiting here.
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with self._lock:
                if self._open >= MAX_CONNECTIONS:
                    conn.close()
                    continue
                self._open += 1
                self._connections += 1
                number = self._connections
            t = threading.Thread(target=self._serve, args=(conn, number), daemon=True)
            t.start()

    def _serve(self, conn, number=1):
        conn.settimeout(max(60.0, 4 * self.limits.cell_timeout))
        try:
            while True:
                try:
                    header, payload, size = wire.recv_sized(conn, int(self.limits.message_bytes))
                except (ConnectionError, OSError, wire.ProtocolError) as exc:
                    if not isinstance(exc, (ConnectionError, TimeoutError)):
                        self._note(f"bad message: {exc}")
                        try:
                            wire.send(conn, {"ok": False, "error": str(exc)})
                        except OSError:
                            pass
                    return
                reply, out = self.handle(header, payload, number, size)
                shared = ()
                if isinstance(out, Shared):
                    out, shared = out.payload, out.shared
                try:
                    wire.send(conn, reply, out, shared, views=True)
                except (OSError, TypeError):
                    return
        finally:
            conn.close()
            with self._lock:
                self._open -= 1

    def close(self):
        """Stop listening; an active function is recorded as not finished."""
        with self._lock:
            self._abandon("grading stopped before it finished")
        if self._server is not None:
            self._server.close()
            self._server = None
        try:
            os.unlink(self.socket_path)
        except FileNotFoundError:
            pass
        if self._own_dir:
            try:
                os.rmdir(self.directory)
            except OSError:
                pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    # -------------------------------------------------------------- rules
    def _note(self, text):
        if len(self.events) < 100:
            self.events.append(text)

    def _abandon(self, why):
        fn = self.active
        if fn is not None:
            self.results[fn] = {"points": 0.0, "n_ok": 0, "mistakes": [],
                                "report": f"{fn}: 0 of {len(testcases.OUTPUTS[fn])} outputs correct"
                                          f"\n  ({why})"}
            self.active = None

    def expect_grader(self):
        """The next connection is the grader's (``exclusive``: a new driver is being started)."""
        with self._lock:
            self._grader = self._connections + 1

    def plan(self, cells, skip_cells=()):
        """The steps of the next re-check round: ``cells`` (``[{"index", "source"}]``) but
        ``skip_cells``, then the functions not begun nor found undefined yet, in course order."""
        with self._lock:
            self._steps = [("cell", c) for c in cells if c["index"] not in set(skip_cells)]
            self._steps += [("function", fn) for fn in FUNCTIONS
                            if fn not in self.begun and fn not in self.undefined]
            self._steps.reverse()  # popped from the end
            self.progress, self.progress_time = None, time.monotonic()

    def _next(self):
        """Hand out the next step; it becomes :attr:`progress` (what a hang or a crash is blamed on)."""
        if self._steps is None:
            return {"ok": False, "error": "no steps in this grading session"}, None
        self._abandon("its check did not finish")
        if not self._steps:
            self.progress, self.progress_time = {"stage": "done"}, time.monotonic()
            return {"ok": True, "step": "done"}, None
        kind, what = self._steps.pop()
        if kind == "cell":
            self.progress, self.progress_time = {"stage": "cell", "index": what["index"]}, time.monotonic()
            return {"ok": True, "step": "cell", "index": what["index"], "source": what["source"]}, None
        reply, inputs = self._begin(what)
        self.progress = {"stage": "function", "fn": what}
        if not reply.get("ok"):
            return reply, None
        return {**reply, "step": "function", "fn": what}, inputs

    def _undefined(self):
        """The driver found no callable for the function being checked (the current step)."""
        fn = self.active
        if fn is None or self.progress != {"stage": "function", "fn": fn}:
            return {"ok": False, "error": "no function is being checked"}, None
        self.undefined.add(fn)
        self.begun.remove(fn)
        self.active = None
        return {"ok": True}, None

    def handle(self, header, payload, connection=1, size=None):
        """Answer one request: ``(reply header, reply payload)``. Never raises.

        ``size``: the request's size in bytes as received (worked out again when not given).
        """
        with self._lock:
            self._messages += 1
            if self._messages > MAX_MESSAGES:
                return {"ok": False, "error": "too many requests"}, None
            try:
                op, fn = header.get("op"), header.get("fn")
                if self.exclusive and op in ("begin", "ref", "submit", "progress", "next", "undefined") \
                        and connection != self._grader:
                    self._note(f"{op!r} on connection {connection} refused")
                    return {"ok": False, "error": "only the grader's own connection may do that"}, None
                if op == "next":
                    return self._next()
                if op == "undefined":
                    return self._undefined()
                if self._steps is not None and op in ("begin", "progress"):
                    # A re-check's steps are the judge's own: it begins functions itself.
                    self._note(f"{op!r} refused: the judge hands out the steps")
                    return {"ok": False, "error": f"{op!r} is not part of this session"}, None
                if op == "begin":
                    return self._begin(fn)
                if op == "ref":
                    return self._oracle(fn, payload, size)
                if op == "submit":
                    return self._submit(fn, payload)
                if op == "progress":
                    return self._progress(header)
                return {"ok": False, "error": f"unknown request {op!r}"}, None
            except Exception as exc:  # a hostile payload must never break the judge
                self._note(f"{header.get('op')!r} failed: {type(exc).__name__}: {exc}")
                return {"ok": False, "error": f"rejected: {type(exc).__name__}"}, None

    def _progress(self, header):
        """Where the (untrusted) re-check driver says it is; used only to skip a hung step."""
        stage = header.get("stage")
        if stage not in ("cell", "function", "undefined", "done"):
            return {"ok": False, "error": "unknown stage"}, None
        info = {"stage": stage}
        if stage == "cell" and type(header.get("index")) is int:
            info["index"] = header["index"]
        if stage in ("function", "undefined") and header.get("fn") in FUNCTIONS:
            info["fn"] = header["fn"]
            if stage == "undefined":
                self.undefined.add(header["fn"])
        self.progress = info
        self.progress_time = time.monotonic()
        return {"ok": True}, None

    def _begin(self, fn):
        if fn not in FUNCTIONS:
            return {"ok": False, "error": f"unknown function {fn!r}"}, None
        if fn in self.begun:
            self._note(f"{fn} begun twice")
            return {"ok": False, "error": f"{fn} was already checked in this grading session"}, None
        if self.strict_order and self.begun and FUNCTIONS.index(fn) < FUNCTIONS.index(self.begun[-1]):
            self._note(f"{fn} begun out of order")
            return {"ok": False, "error": f"{fn} must be checked before {self.begun[-1]}"}, None
        self._abandon("its check did not finish")
        self.progress_time = time.monotonic()
        self.begun.append(fn)
        self.active = fn
        data = self.data[fn]
        inputs = [list(copy.deepcopy(c["inputs"])) for c in data]
        shapes = [{k: list(v.shape) for k, v in c["expected"].items()} for c in data]
        dep = testcases.DEPENDS.get(fn)
        self._oracle_calls = 0
        self._off_case_calls, self._off_case_notes = 0, set()
        if dep:  # one call per example and time step, in all cases
            steps = sum(c["inputs"][0].shape[-1] * c["inputs"][0].shape[1] for c in data)
            self._oracle_budget = ORACLE_FACTOR * steps + 2
            self._oracle_bytes = 2 * max(len(wire.encode({}, c["inputs"])) for c in data) + 65536
        else:
            self._oracle_budget = 0
        self._reached = [reachable.CaseColumns(dep, c["inputs"]) for c in data] if dep else []
        self._signature = signature(getattr(self.ref, dep)) if dep else None
        reply = {"ok": True, "shapes": shapes}
        if dep:
            reply["signature"] = self._signature
        return reply, inputs

    def _oracle(self, dep, args, size=None):
        fn = self.active
        if fn is None or testcases.DEPENDS.get(fn) != dep:
            self._note(f"reference {dep!r} asked for while {fn!r} is checked")
            return {"ok": False, "error": f"the reference {dep} is not available now"}, None
        if self._oracle_calls >= self._oracle_budget:
            self._note(f"reference {dep} called too often")
            return {"ok": False, "error": f"{dep} called too many times while checking {fn}"}, None
        self._oracle_calls += 1
        func = getattr(self.ref, dep)
        params = self._signature
        if not isinstance(args, list) or len(args) != len(params):
            return {"ok": False, "error": f"{dep} takes {len(params)} arguments"}, None
        if (len(wire.encode({}, args)) if size is None else size) > self._oracle_bytes:
            return {"ok": False, "error": f"arguments of {dep} are larger than the test inputs"}, None
        shared = nested.nodes(args)  # before the call: what the caller holds, as sent
        positional = [v for v, p in zip(args, params) if p[1] != "k"]
        keywords = {p[0]: v for v, p in zip(args, params) if p[1] == "k"}
        try:
            with np.errstate(all="ignore"):
                result = func(*positional, **keywords)
            nested.pack(result, shared, keep_identity=True)
        except Exception as exc:  # the reference on student-chosen arguments may fail
            # As on the reference itself (a wrong shape raises the same error in stock
            # nbgrader); whether it raises depends on shapes and types, not on values.
            return {"ok": False, "error": f"{dep} raised {type(exc).__name__}: {exc}",
                    "raised": _raised(exc)}, None
        named = {p[0]: v for v, p in zip(args, params)}
        anchored = False
        for case in self._reached:  # the first test case whose columns the call's are answers it
            examples = case.examples(named)
            if examples is None:
                continue
            anchored = True
            allowed = case.allowed(named, examples)
            if allowed is not None:
                case.add(result, allowed)
                return {"ok": True}, Shared(result, shared)
        if not anchored:
            return self._off_case(dep, result, shared, "on arguments outside the test inputs")
        return self._off_case(dep, result, shared, "with a state or gradient no sequence pass reaches")

    def _off_case(self, dep, result, shared, why):
        """Answer a well-formed call off the test case with NaN in place of every computed value.

        What a refusal would reveal (that the call was off the test case) and
        no more; stock nbgrader answers it with real values, so an honest
        function that also calls the cell on other inputs (a sanity check on
        random arrays) keeps the outputs that do not depend on that call.
        """
        note = f"reference {dep} called {why}: answered with NaN"
        if note not in self._off_case_notes:  # once per kind and function: a loop fills no log
            self._off_case_notes.add(note)
            self._note(note)
        self._off_case_calls += 1
        return {"ok": True}, Shared(reachable.withheld(result, shared), shared)

    def _submit(self, fn, got_list):
        if fn is None or fn != self.active:
            self._note(f"{fn!r} submitted while {self.active!r} is active")
            return {"ok": False, "error": f"{fn} is not being checked"}, None
        data = self.data[fn]
        got_all = [self._clean(fn, case, got_list[i] if isinstance(got_list, list)
                               and i < len(got_list) else None)
                   for i, case in enumerate(data)]
        diagnosis = verdict.compare(fn, data, got_all)
        points, n_ok, text = verdict.report(fn, diagnosis)
        if self._off_case_calls:
            dep = testcases.DEPENDS[fn]
            times = "once" if self._off_case_calls == 1 else f"{self._off_case_calls} times"
            text += (f"\n  (in grading, {fn} called {dep} {times} on inputs outside its test case, "
                     "and those calls returned NaN in place of every value)")
        record = verdict.record(fn, diagnosis)
        self.results[fn] = {"points": points, "n_ok": n_ok, "report": text,
                            "mistakes": diagnosis.mistakes(), "diagnosis": record}
        self.active = None
        return {"ok": True, "points": points, "n_ok": n_ok, "report": text,
                "diagnosis": record}, None

    @staticmethod
    def _clean(fn, case, got):
        """Per output: a float64 array of the expected shape, or an OutputError."""
        out = {}
        for k, exp in case["expected"].items():
            v = got.get(k) if isinstance(got, dict) else None
            if isinstance(v, np.ndarray):
                arr = np.array(v, dtype=np.float64)
                out[k] = (arr if arr.shape == exp.shape else
                          testcases.OutputError(f"{k} has shape {arr.shape}, expected {exp.shape}"))
            elif isinstance(v, str):
                out[k] = testcases.OutputError(v[:2000])
            else:
                out[k] = testcases.OutputError(f"{k} was not sent back")
        return out


class Shared:
    """A reply payload that may name objects of the request (``shared``: ``nested.nodes`` of it)."""

    def __init__(self, payload, shared):
        self.payload, self.shared = payload, shared


def signature(func):
    """``[[name, kind, has default, default], ...]`` of the reference cell ``func``.

    ``kind``: ``"p"`` positional-only, ``"pk"`` positional or keyword, ``"k"``
    keyword-only. The client builds a stand-in with exactly this signature, so a
    call binds (or fails to bind) as it would on the reference itself.
    """
    kinds = {inspect.Parameter.POSITIONAL_ONLY: "p", inspect.Parameter.POSITIONAL_OR_KEYWORD: "pk",
             inspect.Parameter.KEYWORD_ONLY: "k"}
    out = []
    for p in inspect.signature(func).parameters.values():
        if p.kind not in kinds:
            raise TypeError(f"the reference {func.__name__} takes *{p.name}: "
                            "the judge cannot stand in for it")
        has_default = p.default is not inspect.Parameter.empty
        default = p.default if has_default else None
        if default is not None and type(default) not in (bool, int, float, str):
            raise TypeError(f"the default of {p.name} of the reference {func.__name__} is not a plain value")
        out.append([p.name, kinds[p.kind], has_default, default])
    return out


def _raised(exc):
    """``[type name, args]`` of an exception of the reference, when the caller can rebuild it."""
    name = type(exc).__name__
    if getattr(builtins, name, None) is not type(exc):
        return None
    args = [a for a in exc.args if a is None or type(a) in (bool, int, float, str)]
    return [name, args] if len(args) == len(exc.args) else None
