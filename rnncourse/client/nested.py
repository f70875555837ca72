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
object.
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


def pack(obj, shared=(), keep_identity=False):
    """Return ``(spec, arrays)``: a JSON-able spec and the list of arrays it indexes.

    ``shared``: the receiver's own objects (:func:`nodes` of its message); an
    object among them is sent as a reference to it rather than as a copy.
    ``keep_identity``: an array object met again is sent as the same index
    (messages); otherwise every occurrence is a copy of its own (data files).
    """
    arrays = []
    index = {}
    outside = {id(o): k for k, o in enumerate(shared)}

    def walk(o):
        k = outside.get(id(o))
        if k is not None and isinstance(o, (np.ndarray, *_CONTAINERS)):
            return {"x": k}
        if isinstance(o, np.ndarray):
            key = id(o) if keep_identity else len(arrays)
            if key not in index:
                arr, dtype = _as_f8(o)
                index[key] = (len(arrays), dtype)
                arrays.append(arr)
            i, dtype = index[key]
            return {"a": i} if dtype is None else {"A": [i, dtype]}
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

    def array(i, dtype):
        if i not in built:
            if type(i) is not int or not 0 <= i < len(arrays):
                raise IndexError("array index out of range")
            built[i] = np.array(arrays[i], dtype=dtype)
        return built[i]

    def walk(s):
        if "a" in s:
            return array(s["a"], np.float64)
        if "A" in s:
            i, dtype = s["A"]
            if dtype not in DTYPES:
                raise ValueError(f"dtype {dtype!r} not allowed")
            return array(i, dtype)
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
