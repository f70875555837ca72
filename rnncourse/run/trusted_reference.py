"""The reference a worker grades with: arrays and solutions, loaded once per process."""

import hashlib
import threading

_LOADED = {}
_LOCK = threading.Lock()


def reference_digest():
    """Fingerprint of the reference arrays and the master notebook's solutions installed here."""
    from rnncourse import paths
    from rnncourse.content import reference

    h = hashlib.sha256(paths.reference_data().read_bytes())
    for k, v in sorted(reference.solution_sources().items()):
        h.update(f"{k}\0{v}\0".encode())
    return h.hexdigest()[:16]


def load():
    """``(data, ref)``: reference arrays and reference module, loaded on the first call only."""
    with _LOCK:
        if "data" not in _LOADED:
            from rnncourse.content import refdata, reference

            _LOADED["data"] = refdata.load()
            _LOADED["ref"] = reference.load()
            _LOADED["digest"] = reference_digest()
        return _LOADED["data"], _LOADED["ref"]


def loaded_digest():
    """The :func:`reference_digest` of what :func:`load` loaded, or None before it did."""
    return _LOADED.get("digest")
