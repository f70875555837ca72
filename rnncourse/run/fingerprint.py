"""A submission's fingerprint: what must change for a later run to grade it again.

A run skips a student whose recorded fingerprint equals the one computed now: same notebook,
same other files, same ``timestamp.txt``, and the same grading setup (:func:`setup_key`).
"""

import hashlib
import json
from pathlib import Path

GRADER_VERSION = "2"
"""Part of every submission's fingerprint: bump it when grading changes, to regrade everyone."""


def setup_key(assignment_fingerprint, confined, figures, limits, execute, source_files, reference_digest):
    """The grading setup as one string: a change to any part regrades the whole class.

    Parameters
    ----------
    assignment_fingerprint : str
        The gradebook's record of the assignment (``Snapshot.fingerprint()``).
    confined, figures : bool
        How the run grades.
    limits, execute : dict
        The sandbox limits (``Limits.to_dict()``) and nbgrader's execution settings.
    source_files : dict
        ``{name: bytes}`` released with the assignment.
    reference_digest : str or None
        Digest of the reference the judge uses (confined runs).
    """
    return json.dumps([GRADER_VERSION, assignment_fingerprint, confined, bool(figures), limits, execute,
                       sorted((k, hashlib.sha256(v).hexdigest()) for k, v in source_files.items()),
                       reference_digest], sort_keys=True)


def fingerprint(raw_nb, extra_files, timestamp_text, setup):
    """Hex digest of one submission under one setup.

    Parameters
    ----------
    raw_nb : bytes or None
        The submitted notebook's bytes (None: no notebook).
    extra_files : dict
        ``{name: bytes}`` of the submission's other files.
    timestamp_text : str or None
        The text of its ``timestamp.txt``.
    setup : str
        :func:`setup_key` of the run.
    """
    h = hashlib.sha256()
    h.update(setup.encode())
    h.update(hashlib.sha256(raw_nb if raw_nb is not None else b"<missing>").digest())
    for name in sorted(extra_files):
        h.update(name.encode() + b"\0" + hashlib.sha256(extra_files[name]).digest())
    h.update((timestamp_text or "").encode())
    return h.hexdigest()


def read_timestamp(folder):
    """``(datetime or None, text or None)`` of ``folder/timestamp.txt`` (nbgrader's parser)."""
    path = Path(folder) / "timestamp.txt"
    if not path.exists():
        return None, None
    text = path.read_text(errors="replace").strip()
    if not text:
        return None, text
    from nbgrader.utils import parse_utc

    try:
        return parse_utc(text), text
    except (ValueError, OverflowError):
        return None, text
