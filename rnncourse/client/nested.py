"""Nested tuples, lists, dicts and arrays <-> a JSON spec plus plain arrays.

Used for the reference-data file (``np.load(..., allow_pickle=False)``) and
for anything sent between processes: no pickle, no object whose code runs
when it is read.

Spec nodes: ``{"a": i}`` a float64 array (the i-th), ``{"A": [i, dtype]}`` an
array of another real dtype (:data:`DTYPES`, its values sent as float64,
exactly), ``{"t": [...]}``, ``{"l": [...]}``, ``{"d": [[key, node], ...]}``,
``{"v": plain value}``, and ``{"x": k}``: the k-th of the receiver's own
objects (:func:`nodes` of what it sent), so a value handed back keeps its
identity (a cache holds the very arrays and dict the caller passed). In a
message, the same array object met twice is sent once and comes back as one
object; with ``views``, ``{"V": [k, base, offset, shape, strides]}`` is the
k-th view, into the array node ``base`` (offset and strides counted in its
elements; the same k again is the same view object), so
arrays that share one buffer on the sender's side (``da_prev`` and ``dxt``,
two slices of one array in the reference ``lstm_cell_backward``) share one on
the receiver's, with the same offsets, strides and ``base``.
"""

import json

import numpy as np

DTYPES = ("float64", "float32", "float16", "int64", "int32", "int16", "int8",
          "uint64", "uint32", "uint16", "uint8", "bool")
"""Array dtypes that travel (as float64 values, converted back exactly)."""

_CONTAINERS = (tuple, list, dict)


def _as_f8(o):
    """``(float64 copy, dtype name or None)`` of an array; TypeError when it cannot travel exactly."""
    name = o.dtype.name
    if name not in DTYPES:
        raise TypeError(f"cannot pack an array of dtype {o.dtype}")
    arr = np.array(o, dtype=np.float64)
    if o.dtype.kind in "iu" and o.dtype.itemsize == 8 and arr.size \
            and not np.array_equal(arr.astype(o.dtype), o):
        raise TypeError(f"cannot pack {o.dtype} values beyond 2**53 exactly")
    return arr, (None if name == "float64" else name)


def nodes(obj):
    """The arrays and containers of ``obj`` in pre-order (each array object once).

    Sender and receiver of a message get the same list from what was sent and
    what was received, so ``{"x": k}`` names the same value on both sides.
    """
    out, seen = [], set()

    def walk(o):
        if isinstance(o, np.ndarray):
            if id(o) not in seen:
                seen.add(id(o))
                out.append(o)
        elif isinstance(o, _CONTAINERS):
            out.append(o)
            for v in (o.values() if isinstance(o, dict) else o):
                walk(v)

    walk(obj)
    return out


def _view_of(o, outside):
    """``(base, offset, strides)`` in elements when ``o`` can travel as a view of its base, else None.

    The base must own its C-ordered buffer, have ``o``'s dtype, and not be one
    of the receiver's own objects (those travel as references).
    """
    b = o.base
    if not (isinstance(b, np.ndarray) and b is not o and b.flags.owndata and b.flags.c_contiguous
            and b.dtype == o.dtype and b.dtype.name in DTYPES and id(b) not in outside):
        return None
    size = o.dtype.itemsize
    offset = o.__array_interface__["data"][0] - b.__array_interface__["data"][0]
    if offset % size or any(s % size for s in o.strides):
        return None
    return b, offset // size, [s // size for s in o.strides]


def pack(obj, shared=(), keep_identity=False, views=False):
    """Return ``(spec, arrays)``: a JSON-able spec and the list of arrays it indexes.

    ``shared``: the receiver's own objects (:func:`nodes` of its message); an
    object among them is sent as a reference to it rather than as a copy.
    ``keep_identity``: an array object met again is sent as the same index
    (messages); otherwise every occurrence is a copy of its own (data files).
    ``views`` (with ``keep_identity``): a view of another array is sent as a
    view of that array, sent once (``{"V": ...}``).
    """
    arrays = []
    index = {}
    seen_views = {}
    outside = {id(o): k for k, o in enumerate(shared)}

    def array(o):
        key = id(o) if keep_identity else len(arrays)
        if key not in index:
            arr, dtype = _as_f8(o)
            index[key] = (len(arrays), dtype)
            arrays.append(arr)
        i, dtype = index[key]
        return {"a": i} if dtype is None else {"A": [i, dtype]}

    def walk(o):
        k = outside.get(id(o))
        if k is not None and isinstance(o, (np.ndarray, *_CONTAINERS)):
            return {"x": k}
        if isinstance(o, np.ndarray):
            view = _view_of(o, outside) if views and keep_identity else None
            if view is None:
                return array(o)
            base, offset, strides = view
            k = seen_views.setdefault(id(o), len(seen_views))
            return {"V": [k, array(base), offset, list(o.shape), strides]}
        if isinstance(o, tuple):
            return {"t": [walk(v) for v in o]}
        if isinstance(o, list):
            return {"l": [walk(v) for v in o]}
        if isinstance(o, dict):
            return {"d": [[str(k), walk(v)] for k, v in o.items()]}
        if o is None or isinstance(o, (bool, int, float, str)):
            return {"v": o}
        raise TypeError(f"cannot pack {type(o).__name__}")

    return walk(obj), arrays


def unpack(spec, arrays, shared=()):
    """Inverse of :func:`pack`; arrays are copied (one copy per array sent)."""
    built = {}
    views = {}

    def array(i, dtype):
        if i not in built:
            if type(i) is not int or not 0 <= i < len(arrays):
                raise IndexError("array index out of range")
            built[i] = np.array(arrays[i], dtype=dtype)
        return built[i]

    def view(k, node, offset, shape, strides):
        if type(k) is not int:
            raise ValueError("a view needs a number")
        if k not in views:
            base = walk(node) if isinstance(node, dict) and ("a" in node or "A" in node) else None
            if base is None or not _inside(base.size, offset, shape, strides):
                raise ValueError("a view outside its base array")
            size = base.dtype.itemsize
            views[k] = np.ndarray(tuple(shape), dtype=base.dtype, buffer=base, offset=offset * size,
                                  strides=tuple(s * size for s in strides))
        return views[k]

    def walk(s):
        if "a" in s:
            return array(s["a"], np.float64)
        if "A" in s:
            i, dtype = s["A"]
            if dtype not in DTYPES:
                raise ValueError(f"dtype {dtype!r} not allowed")
            return array(i, dtype)
        if "V" in s:
            return view(*s["V"])
        if "x" in s:
            k = s["x"]
            if type(k) is not int or not 0 <= k < len(shared):
                raise IndexError("reference to an unknown object")
            return shared[k]
        if "t" in s:
            return tuple(walk(v) for v in s["t"])
        if "l" in s:
            return [walk(v) for v in s["l"]]
        if "d" in s:
            return {k: walk(v) for k, v in s["d"]}
        return s["v"]

    return walk(spec)


def _inside(size, offset, shape, strides):
    """Does a view of ``shape`` and ``strides`` at ``offset`` (elements) stay within ``size`` elements?"""
    if not (type(offset) is int and isinstance(shape, list) and isinstance(strides, list)
            and len(shape) == len(strides)
            and all(type(n) is int and n >= 0 for n in shape) and all(type(s) is int for s in strides)):
        return False
    if 0 in shape:
        return 0 <= offset <= size
    low = offset + sum(min(0, (n - 1) * s) for n, s in zip(shape, strides))
    high = offset + sum(max(0, (n - 1) * s) for n, s in zip(shape, strides))
    return 0 <= low and high < size


def to_npz_items(prefix, obj):
    """Flatten ``obj`` into ``{prefix/spec: json, prefix/i: array}``."""
    spec, arrays = pack(obj)
    items = {f"{prefix}/spec": np.array(json.dumps(spec))}
    items.update({f"{prefix}/{i}": a for i, a in enumerate(arrays)})
    return items


def from_npz(npz, prefix):
    """Read back what :func:`to_npz_items` wrote under ``prefix``."""
    spec = json.loads(str(npz[f"{prefix}/spec"]))
    arrays = []
    while f"{prefix}/{len(arrays)}" in npz:
        arrays.append(npz[f"{prefix}/{len(arrays)}"])
    return unpack(spec, arrays)
