"""Messages between confined student code and the trusted judge.

One message on a stream socket::

    b"RNNW" | u64 length of the rest | u32 header length | JSON header | array bytes

The header is a JSON object; its ``"spec"`` (from :func:`rnncourse.client.nested.pack`)
describes nested tuples/lists/dicts of plain values and arrays, and its
``"dims"`` lists each array's shape. The arrays follow one after the other
as raw little-endian float64 values in C order, so a reader needs no parser
beyond JSON: no pickle and no object whose code runs when it is read (an array
of another real dtype is tagged in the spec and converted back exactly from
its float64 values). Every read is bounded by a size limit.

The judge's replies may send views (``nested.pack(..., views=True)``): arrays
that share one buffer in the reference (``da_prev`` and ``dxt`` of
``lstm_cell_backward``, two slices of one array) come back to the kernel
sharing one buffer, with the reference's ``base``, offsets and strides, each
view checked to lie inside its base. The judge accepts no view in a request:
it reads values only (:func:`recv_sized`).
"""

import json
import struct

import numpy as np

from rnncourse.client import nested

MAGIC = b"RNNW"
MAX_DEPTH = 32
MAX_NDIM = 8
_F8 = np.dtype("<f8")


class ProtocolError(Exception):
    """A malformed, oversized or forbidden message."""


def encode(header, payload=None, shared=(), views=False):
    """Bytes of one message: ``header`` (a JSON-able dict) plus the packed ``payload``.

    ``shared``: the receiver's objects that may be named rather than copied;
    ``views``: views travel as views of their base
    (:func:`rnncourse.client.nested.pack`).
    """
    if "spec" in header or "dims" in header:
        raise ValueError("'spec' and 'dims' are the wire's own header fields")
    spec, arrays = nested.pack(payload, shared, keep_identity=True, views=views)
    arrays = [np.ascontiguousarray(a, dtype=_F8) for a in arrays]
    head = json.dumps({**header, "spec": spec, "dims": [list(a.shape) for a in arrays]}).encode()
    body = b"".join([struct.pack(">I", len(head)), head, *(a.tobytes() for a in arrays)])
    return MAGIC + struct.pack(">Q", len(body)) + body


def _read_arrays(shapes, body, pos):
    """The arrays that ``shapes`` describes, read from ``body`` at ``pos``; ``(arrays, end)``."""
    if not isinstance(shapes, list):
        raise ProtocolError("header must list the arrays' shapes")
    arrays = []
    for shape in shapes:
        if (not isinstance(shape, list) or len(shape) > MAX_NDIM
                or any(type(n) is not int or n < 0 for n in shape)):
            raise ProtocolError(f"bad array shape {str(shape)[:80]}: a list of at most {MAX_NDIM} sizes")
        count = 1
        for n in shape:
            count *= n
        if pos + 8 * count > len(body):
            raise ProtocolError("the arrays are shorter than their shapes say")
        try:  # read-only views: nested.unpack hands out native copies
            arrays.append(np.frombuffer(body, dtype=_F8, count=count, offset=pos).reshape(shape))
        except ValueError as exc:
            raise ProtocolError(f"bad array shape {str(shape)[:80]}: {exc}") from None
        pos += 8 * count
    return arrays, pos


def _ints(value):
    return isinstance(value, list) and len(value) <= MAX_NDIM and all(type(n) is int for n in value)


def _depth(spec, level=0, views=False):
    if level > MAX_DEPTH:
        raise ProtocolError("message nested too deeply")
    if not isinstance(spec, dict) or len(spec) != 1:
        raise ProtocolError("malformed spec")
    (kind, value), = spec.items()
    if kind in ("t", "l"):
        if not isinstance(value, list):
            raise ProtocolError("malformed spec")
        for v in value:
            _depth(v, level + 1, views)
    elif kind == "d":
        if not isinstance(value, list):
            raise ProtocolError("malformed spec")
        for item in value:
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)):
                raise ProtocolError("malformed spec")
            _depth(item[1], level + 1, views)
    elif kind == "V":
        if not views:
            raise ProtocolError("views are not accepted here")
        if not (isinstance(value, list) and len(value) == 5 and type(value[0]) is int
                and isinstance(value[1], dict) and set(value[1]) <= {"a", "A"}
                and type(value[2]) is int and _ints(value[3]) and _ints(value[4])
                and len(value[3]) == len(value[4])):
            raise ProtocolError("malformed spec")
        _depth(value[1], level + 1, views)
    elif kind in ("a", "x"):
        if type(value) is not int:
            raise ProtocolError("malformed spec")
    elif kind == "A":
        if not (isinstance(value, list) and len(value) == 2 and type(value[0]) is int
                and value[1] in nested.DTYPES):
            raise ProtocolError("malformed spec")
    elif kind == "v":
        if value is not None and type(value) not in (bool, int, float, str):
            raise ProtocolError("malformed spec")
    else:
        raise ProtocolError("malformed spec")


def decode(body, shared=(), views=False):
    """``(header, payload)`` from a message body (what follows the length).

    ``shared``: this side's objects the message may name (``{"x": k}``); none by default.
    ``views``: the message may hold views of its arrays (``{"V": ...}``); a
    :class:`ProtocolError` otherwise.
    """
    if len(body) < 4:
        raise ProtocolError("truncated message")
    (n,) = struct.unpack(">I", body[:4])
    if n > len(body) - 4:
        raise ProtocolError("truncated header")
    try:
        header = json.loads(body[4:4 + n].decode("utf-8"))
    except (ValueError, RecursionError):
        raise ProtocolError("header is not JSON") from None
    if not isinstance(header, dict):
        raise ProtocolError("header must be an object")
    arrays, pos = _read_arrays(header.pop("dims", None), body, 4 + n)
    if pos != len(body):
        raise ProtocolError("trailing bytes after the last array")
    spec = header.pop("spec", {"v": None})
    _depth(spec, views=views)
    try:
        payload = nested.unpack(spec, arrays, shared)
    except (IndexError, KeyError, TypeError, ValueError, RecursionError):
        raise ProtocolError("spec does not match the arrays") from None
    return header, payload


def _recv_exactly(sock, n):
    chunks, got = [], 0
    while got < n:
        chunk = sock.recv(min(n - got, 1 << 20))
        if not chunk:
            raise ConnectionError("connection closed in the middle of a message")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def send(sock, header, payload=None, shared=(), views=False):
    """Send one message (``views``: as :func:`encode`)."""
    sock.sendall(encode(header, payload, shared, views))


def recv(sock, limit, shared=()):
    """Receive one reply of the judge, of at most ``limit`` bytes: ``(header, payload)``.

    It may hold views (:func:`decode`). Raises ``ConnectionError`` on a closed
    connection and :class:`ProtocolError` on anything malformed or larger than
    ``limit``.
    """
    header, payload, _ = recv_sized(sock, limit, shared, views=True)
    return header, payload


def recv_sized(sock, limit, shared=(), views=False):
    """Receive one message: ``(header, payload, size in bytes)``; no view unless ``views``."""
    head = _recv_exactly(sock, 12)
    if head[:4] != MAGIC:
        raise ProtocolError("not a judge message")
    (size,) = struct.unpack(">Q", head[4:])
    if size > limit:
        raise ProtocolError(f"message of {size} bytes exceeds the limit of {limit}")
    header, payload = decode(_recv_exactly(sock, size), shared, views)
    return header, payload, size + 12
