"""What the reference cell may run on while a sequence function is checked (the judge's rule).

Every cell of the course works column by column: column ``k`` of its outputs
depends only on column ``k`` of its inputs (and the parameters); the weight
gradients of a backward cell are sums over the columns. So a call on some
columns reveals nothing that calls on each column alone would not, and the
judge answers a call when each of its columns, alone, is derivable from the
test case of the sequence function being checked:

* the fixed arguments are that example's columns of the test inputs: a column
  ``x[:, i, t]`` and the case's parameters (forward), or column ``i`` of every
  array of one cell cache, with its parameters (backward);
* the running state (``a_prev``, ``c_prev``) or upstream gradients
  (``da_next``, ``dc_next``) are, in that column, what a sequence pass reaches
  for example ``i``: zeros, ``a0[:, i]`` (forward), what the reference cell
  returned for example ``i`` before, ``da[:, i, t]``, or ``da[:, i, t]`` plus
  one of those (backward). Values are matched exactly first, then within the
  grading tolerance (a copy in another float type counts).

So a student may call the cell on the whole batch, on one example at a time
(``x[:, i:i+1, t]``, ``x[:, i, t]`` reshaped or with ``np.newaxis``, a 1-D
column), or on any subset of examples, with states taken or assembled from
earlier results; a free state (which would let the cell evaluate any input,
by solving for the pre-activation) or another example's state is refused.
"""

import numpy as np

from rnncourse.client import testcases

_FREE = {"rnn_cell_forward": ("a_prev",), "lstm_cell_forward": ("a_prev", "c_prev"),
         "rnn_cell_backward": ("da_next",), "lstm_cell_backward": ("da_next", "dc_next")}


def free_arguments(dep):
    """Names of the reference cell ``dep``'s running-state (or upstream-gradient) arguments."""
    return _FREE[dep]


def _numeric(v):
    """``v`` as an array of real numbers (a nested list converted as numpy would), or None."""
    if isinstance(v, list):
        try:
            v = np.asarray(v)
        except (ValueError, TypeError):
            return None
    if not isinstance(v, np.ndarray) or v.dtype.kind not in "biuf":
        return None
    return v


def _matrix(v):
    """``v`` as a 2-D array with one column per example (a 1-D array is one column), or None."""
    v = _numeric(v)
    if v is None or v.ndim not in (1, 2):
        return None
    return v.reshape(-1, 1) if v.ndim == 1 else v


def _columns_of(passed, stacks):
    """Per column of the arrays ``passed``, the examples whose columns they are: list of sets, or None.

    ``stacks``: per array, the test input it must be a column of, shape
    ``(n, m, T)`` (a column ``[:, i, t]`` of each, the same ``i`` and ``t`` for
    all). Compared exactly, with the reference converted to each array's dtype.
    """
    mats = [_matrix(v) for v in passed]
    if any(a is None for a in mats) or len({a.shape[1] for a in mats}) != 1:
        return None
    hits = None
    for a, ref in zip(mats, stacks):
        if a.shape[0] != ref.shape[0]:
            return None
        ref = ref if ref.dtype == a.dtype else ref.astype(a.dtype)
        eq = (ref[:, :, :, None] == a[:, None, None, :]).all(axis=0)  # (m, T, k)
        hits = eq if hits is None else hits & eq
    found = hits.any(axis=1)  # (m, k): example i holds column k at some time step
    return [set(np.flatnonzero(found[:, k]).tolist()) for k in range(found.shape[1])]


class CaseColumns:
    """The columns the reference cell ``dep`` may run on for one test case of its sequence function.

    Parameters
    ----------
    dep : str
        The reference cell (``testcases.DEPENDS`` of the function checked).
    inputs : list
        The test case's inputs: ``(x, a0, parameters)``, or ``(da, caches)``.
    """

    def __init__(self, dep, inputs):
        self.dep = dep
        self.backward = dep.endswith("backward")
        if self.backward:
            da, (cell_caches, _) = inputs[0], inputs[1]
            self.cache_len = len(cell_caches[0])
            self.parameters = cell_caches[0][-1]
            self.stacks = [np.stack([np.asarray(c[j], dtype=np.float64) for c in cell_caches], axis=-1)
                           for j in range(self.cache_len - 1)]
            self.steps = np.asarray(da, dtype=np.float64)  # (n_a, m, T)
            rows, m = da.shape[0], da.shape[1]
        else:
            x, a0, self.parameters = inputs
            self.stacks = [np.asarray(x, dtype=np.float64)]
            self.steps = None
            rows, m = a0.shape
        self.rows = rows
        # Per example: the state (or gradient) columns reached so far, as vectors, as their bytes
        # (an exact match is found without arithmetic), and stacked (rows, n known) when needed.
        self.known = [[np.zeros(rows)] for _ in range(m)]
        if not self.backward:
            for i in range(m):
                self.known[i].append(np.ascontiguousarray(a0[:, i], dtype=np.float64))
        self._stacked = [None] * m
        self._exact = [{k.tobytes() for k in known} for known in self.known]
        # Backward: the bytes of every finite da[:, i, t] + known column, so an upstream gradient
        # summed as a sequence pass sums it is found exactly too (the tolerant check stays below).
        self._sums = [set() for _ in range(m)]
        if self.backward:
            self._steps_of = [np.ascontiguousarray(self.steps[:, i, :].T) for i in range(m)]  # (T, rows)
            for i in range(m):
                for column in self.known[i]:
                    self._add_sums(i, column)

    # ---------------------------------------------------------------- fixed arguments
    def examples(self, named):
        """Per column of the call, the examples its fixed arguments can be, or None.

        ``named``: argument name -> value, as bound to the reference's signature.
        """
        args = testcases.ARGS[self.dep]
        if self.backward:
            cache = named.get(args[-1])
            if not (isinstance(cache, (tuple, list)) and len(cache) == self.cache_len
                    and _same(cache[-1], self.parameters)):
                return None
            found = _columns_of(list(cache[:-1]), self.stacks)
        else:
            if not _same(named.get(args[-1]), self.parameters):
                return None
            found = _columns_of([named.get(args[0])], self.stacks)
        if found is None or not all(found):
            return None
        return found

    # ---------------------------------------------------------------- running state
    def _reached_by(self, column, i):
        """Is the float64 vector ``column`` a running state (or gradient) example ``i`` reaches?"""
        raw = column.tobytes()
        if raw in self._exact[i] or raw in self._sums[i]:
            return True
        known = self._known(i)
        if _close(column[:, None], known).any():
            return True
        if self.backward:
            steps = self.steps[:, i, :]  # (rows, T)
            if _close(column[:, None], steps).any():
                return True
            sums = steps[:, :, None] + known[:, None, :]
            return bool(_close(column[:, None, None], sums).any())
        return False

    def _known(self, i):
        """The columns example ``i`` reached, stacked: (rows, n known)."""
        if self._stacked[i] is None:
            self._stacked[i] = np.stack(self.known[i], axis=1)
        return self._stacked[i]

    def _add_sums(self, i, column):
        for total in self._steps_of[i] + column:  # (T, rows): da[:, i, t] + column, per t
            if np.isfinite(total).all():
                self._sums[i].add(total.tobytes())

    def allowed(self, named, examples):
        """Per column, the examples that also reach its running state; None when a column has none."""
        out = [set(e) for e in examples]
        for name in free_arguments(self.dep):
            v = _matrix(named.get(name))
            if v is None or v.shape[0] != self.rows or v.shape[1] not in (1, len(out)):
                return None
            try:
                v = np.asarray(v, dtype=np.float64)
            except (TypeError, ValueError):
                return None
            for k, ex in enumerate(out):
                column = np.ascontiguousarray(v[:, k if v.shape[1] > 1 else 0])
                ex.intersection_update({i for i in ex if self._reached_by(column, i)})
                if not ex:
                    return None
        return out

    def add(self, result, examples):
        """Remember the state (or gradient) columns of ``result`` for the examples of each column."""
        values = result.values() if isinstance(result, dict) else result
        for v in values:
            if not (isinstance(v, np.ndarray) and v.ndim == 2 and v.shape == (self.rows, len(examples))):
                continue
            v = np.asarray(v, dtype=np.float64)
            for k, ex in enumerate(examples):
                column = v[:, k].copy()  # its own contiguous copy, kept for the run
                raw = column.tobytes()
                for i in ex:
                    if raw not in self._exact[i]:
                        self._exact[i].add(raw)
                        self.known[i].append(column)
                        self._stacked[i] = None
                        if self.backward:
                            self._add_sums(i, column)


def _close(got, expected):
    """Per compared vector, is ``got`` within the grading tolerance of ``expected`` (axis 0)?"""
    with np.errstate(invalid="ignore"):
        return np.all(np.abs(got - expected) <= testcases.ATOL + testcases.RTOL * np.abs(expected), axis=0)


def _same(a, b):
    """Are the packed value ``a`` and the test input ``b`` equal (arrays exactly)?

    An array the caller converted (float32, integers, a nested list) is equal
    when it holds ``b`` converted the same way, as the in-kernel reference
    would then see it; a dict may hold keys of the caller's beside ``b``'s.
    """
    if isinstance(b, np.ndarray):
        if isinstance(a, list):
            a = _numeric(a)
        return (isinstance(a, np.ndarray) and a.shape == b.shape
                and bool((a == (b if a.dtype == b.dtype else b.astype(a.dtype))).all()))
    if isinstance(b, dict):  # extra keys are the caller's own business: the reference never reads them
        return isinstance(a, dict) and all(k in a and _same(a[k], b[k]) for k in b)
    if isinstance(b, (tuple, list)):
        return (isinstance(a, (tuple, list)) and len(a) == len(b)
                and all(_same(x, y) for x, y in zip(a, b)))
    return a == b


def withheld(result, keep=()):
    """``result`` with every value the reference computed replaced by NaN (an off-case answer).

    The structure stays the reference's: the same tuples, lists and dicts, and
    arrays of the same shapes; a float array keeps its dtype and memory order,
    an integer or boolean one (which cannot hold NaN) becomes float64, a number
    becomes ``nan``. The caller's own objects (``keep``: :func:`nested.nodes
    <rnncourse.client.nested.nodes>` of the call's arguments, such as the
    ``parameters`` dict a cache holds) are left as they are; an array met
    twice is replaced by one array, and views of one computed buffer stay
    views of one NaN buffer (``da_prev`` and ``dxt``). No value of the
    reference survives, so the answer says only that the call was well formed.
    """
    own = {id(o) for o in keep}
    made = {}

    def array(o):
        if o.dtype.kind != "f":
            return np.full(o.shape, np.nan)
        b = o.base
        if (isinstance(b, np.ndarray) and id(b) not in own and b.flags.owndata and b.flags.c_contiguous
                and b.dtype == o.dtype):
            if id(b) not in made:
                made[id(b)] = np.full(b.shape, np.nan, dtype=b.dtype)
            return np.ndarray(o.shape, o.dtype, buffer=made[id(b)], strides=o.strides,
                              offset=o.__array_interface__["data"][0] - b.__array_interface__["data"][0])
        return np.full_like(o, np.nan)

    def walk(o):
        if id(o) in own:
            return o
        if isinstance(o, np.ndarray):
            if id(o) not in made:
                made[id(o)] = array(o)
            return made[id(o)]
        if isinstance(o, tuple):
            return tuple(walk(v) for v in o)
        if isinstance(o, list):
            return [walk(v) for v in o]
        if isinstance(o, dict):
            return {k: walk(v) for k, v in o.items()}
        if isinstance(o, (bool, int, float, np.number, np.bool_)):
            return float("nan")
        return o

    return walk(result)
