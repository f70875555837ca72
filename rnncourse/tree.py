"""Nested tuples, lists, dicts and arrays <-> a JSON spec plus plain arrays.

Used for the reference-data file (``np.load(..., allow_pickle=False)``) and
for anything sent between processes: no pickle, no object whose code runs
when it is read.
"""

import json

import numpy as np


def pack(obj):
    """Return ``(spec, arrays)``: a JSON-able spec and the list of arrays it indexes."""
    arrays = []

    def walk(o):
        if isinstance(o, np.ndarray):
            arrays.append(np.array(o, dtype=np.float64))
            return {"a": len(arrays) - 1}
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


def unpack(spec, arrays):
    """Inverse of :func:`pack`; arrays are copied."""
    if "a" in spec:
        return np.array(arrays[spec["a"]], dtype=np.float64)
    if "t" in spec:
        return tuple(unpack(s, arrays) for s in spec["t"])
    if "l" in spec:
        return [unpack(s, arrays) for s in spec["l"]]
    if "d" in spec:
        return {k: unpack(s, arrays) for k, s in spec["d"]}
    return spec["v"]


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
