"""Messages between confined student code and the trusted judge.

One message on a stream socket::

    b"RNNW" | u64 length of the rest | u32 header length | JSON header | .npy blobs

The header is a JSON object; its ``"spec"`` (from :func:`rnncourse.tree.pack`)
describes nested tuples/lists/dicts of plain values and arrays, and its
``"blobs"`` lists the byte length of each array's ``.npy`` serialisation.
Arrays are read with ``allow_pickle=False`` and must hold real numbers; they
come out as float64. Nothing in a message can make the reader run code.
Every read is bounded by a size limit.
"""

import io
import json
import struct

import numpy as np

from . import tree

MAGIC = b"RNNW"
MAX_DEPTH = 32
MAX_NDIM = 8


class ProtocolError(Exception):
    """A malformed, oversized or forbidden message."""


def encode(header, payload=None):
    """Bytes of one message: ``header`` (a JSON-able dict) plus the packed ``payload``."""
    spec, arrays = tree.pack(payload)
    blobs = []
    for a in arrays:
        buf = io.BytesIO()
        np.lib.format.write_array(buf, np.ascontiguousarray(a, dtype=np.float64), allow_pickle=False)
        blobs.append(buf.getvalue())
    head = json.dumps({**header, "spec": spec, "blobs": [len(b) for b in blobs]}).encode()
    body = struct.pack(">I", len(head)) + head + b"".join(blobs)
    return MAGIC + struct.pack(">Q", len(body)) + body


def _read_array(blob):
    try:
        arr = np.lib.format.read_array(io.BytesIO(blob), allow_pickle=False)
    except Exception as exc:  # any malformed blob is a protocol error, never more
        raise ProtocolError(f"bad array: {exc}") from None
    if arr.dtype.names is not None or arr.dtype.kind not in "biuf" or arr.ndim > MAX_NDIM:
        raise ProtocolError(f"arrays must hold real numbers, got dtype {arr.dtype}, ndim {arr.ndim}")
    return np.array(arr, dtype=np.float64)


def _depth(spec, level=0):
    if level > MAX_DEPTH:
        raise ProtocolError("message nested too deeply")
    if not isinstance(spec, dict) or len(spec) != 1:
        raise ProtocolError("malformed spec")
    (kind, value), = spec.items()
    if kind in ("t", "l"):
        if not isinstance(value, list):
            raise ProtocolError("malformed spec")
        for v in value:
            _depth(v, level + 1)
    elif kind == "d":
        if not isinstance(value, list):
            raise ProtocolError("malformed spec")
        for item in value:
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)):
                raise ProtocolError("malformed spec")
            _depth(item[1], level + 1)
    elif kind == "a":
        if type(value) is not int:
            raise ProtocolError("malformed spec")
    elif kind == "v":
        if value is not None and type(value) not in (bool, int, float, str):
            raise ProtocolError("malformed spec")
    else:
        raise ProtocolError("malformed spec")


def decode(body):
    """``(header, payload)`` from a message body (what follows the length)."""
    if len(body) < 4:
        raise ProtocolError("truncated message")
    (n,) = struct.unpack(">I", body[:4])
    if n > len(body) - 4:
        raise ProtocolError("truncated header")
    try:
        header = json.loads(body[4:4 + n].decode("utf-8"))
    except (ValueError, RecursionError):
        raise ProtocolError("header is not JSON") from None
    if not isinstance(header, dict) or not isinstance(header.get("blobs"), list):
        raise ProtocolError("header must be an object with blobs")
    pos, arrays = 4 + n, []
    for size in header["blobs"]:
        if type(size) is not int or size < 0 or pos + size > len(body):
            raise ProtocolError("bad blob sizes")
        arrays.append(_read_array(body[pos:pos + size]))
        pos += size
    if pos != len(body):
        raise ProtocolError("trailing bytes after the last array")
    spec = header.pop("spec", {"v": None})
    header.pop("blobs")
    _depth(spec)
    try:
        payload = tree.unpack(spec, arrays)
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


def send(sock, header, payload=None):
    """Send one message."""
    sock.sendall(encode(header, payload))


def recv(sock, limit):
    """Receive one message of at most ``limit`` bytes: ``(header, payload)``.

    Raises ``ConnectionError`` on a closed connection and :class:`ProtocolError`
    on anything malformed or larger than ``limit``.
    """
    head = _recv_exactly(sock, 12)
    if head[:4] != MAGIC:
        raise ProtocolError("not a judge message")
    (size,) = struct.unpack(">Q", head[4:])
    if size > limit:
        raise ProtocolError(f"message of {size} bytes exceeds the limit of {limit}")
    return decode(_recv_exactly(sock, size))
