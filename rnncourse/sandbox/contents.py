"""What the grader hands a sandbox: the files confined code may import, the paths it must never see.

The sandbox knows nothing of the course; its caller builds a :class:`Contents`
(this course's: :func:`rnncourse.confinement.course_contents`) and passes it to
:class:`rnncourse.sandbox.Sandbox`.
"""

import dataclasses
import importlib.util
import os


@dataclasses.dataclass(frozen=True)
class Contents:
    """The grader's own files copied into a sandbox, and the host paths no bind may contain.

    Attributes
    ----------
    files : tuple of (str, str)
        ``(host file, path inside)`` pairs: each host file is copied (at the
        sandbox's creation, so later changes are not seen) to the relative
        path inside a read-only directory that is confined code's
        ``PYTHONPATH`` (``CLIENT_DIR``). E.g. ``("/x/pkg/mod.py", "pkg/mod.py")``.
    protected : tuple of str
        Absolute host paths (resolved when the sandbox is made) that no bound
        directory may be or contain: the sandbox refuses to start rather than
        expose them.
    """

    files: tuple = ()
    protected: tuple = ()

    def __post_init__(self):
        files = tuple((os.fspath(src), os.fspath(dst)) for src, dst in self.files)
        for src, dst in files:
            parts = dst.split("/")
            if not os.path.isabs(src) or not dst or dst.startswith("/") or ".." in parts or "" in parts:
                raise ValueError(f"Contents.files: {(src, dst)!r} must be (absolute host file, "
                                 "relative path without '..')")
        protected = tuple(os.fspath(p) for p in self.protected)
        for p in protected:
            if not os.path.isabs(p):
                raise ValueError(f"Contents.protected: {p!r} must be an absolute path")
        object.__setattr__(self, "files", files)
        object.__setattr__(self, "protected", protected)

    @classmethod
    def from_dict(cls, d):
        """Contents from a plain dict (``to_dict``'s); None gives empty contents."""
        if isinstance(d, cls):
            return d
        rest = dict(d or {})
        files, protected = rest.pop("files", ()), rest.pop("protected", ())
        if rest:
            raise ValueError(f"unknown Contents fields {sorted(rest)}; known: files, protected")
        return cls(tuple(tuple(f) for f in files), tuple(protected))

    def to_dict(self):
        return {"files": [list(f) for f in self.files], "protected": list(self.protected)}

    def exposes(self, src):
        """The first protected path that the host path ``src`` is or contains, else None."""
        src = os.path.realpath(src)
        for p in self.protected:
            p = os.path.realpath(p)
            if p == src or p.startswith(src.rstrip("/") + "/"):
                return p
        return None

    def copy_into(self, directory):
        """Copy :attr:`files` under ``directory`` (created as needed), each module with its bytecode.

        Confined code cannot write bytecode next to the read-only copy, so every
        process would compile each module again (about 5 ms for the course's
        client, twice per submission). Each ``.py`` file gets a hash-checked
        ``.pyc`` in ``__pycache__``: the importer compares it with the copied
        source's hash and compiles the source as before if they differ.
        """
        import shutil

        for src, dst in self.files:
            target = os.path.join(directory, dst)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copyfile(src, target)
            if dst.endswith(".py"):
                code = _bytecode(src, dst)
                if code is not None:
                    cache = importlib.util.cache_from_source(target)
                    os.makedirs(os.path.dirname(cache), exist_ok=True)
                    with open(cache, "wb") as f:
                        f.write(code)


_BYTECODE = {}


def _bytecode(src, dst):
    """A hash-checked ``.pyc`` of the host file ``src`` copied to ``dst``, or None if it does not compile.

    Compiled once per process and version of the file, under its path inside
    (the importer sets the real one), so no host path is written into the copy.
    """
    st = os.stat(src)
    key = (src, dst, st.st_mtime_ns, st.st_size)
    if key not in _BYTECODE:
        with open(src, "rb") as f:
            source = f.read()
        try:
            code = compile(source, dst, "exec", dont_inherit=True)
        except (SyntaxError, ValueError):
            return None  # the confined interpreter reports it when it imports the module
        _BYTECODE[key] = _pyc(code, source)
    return _BYTECODE[key]


def _pyc(code, source):
    """The bytes of a checked hash-based ``.pyc`` (PEP 552) of ``code`` compiled from ``source``."""
    import marshal

    flags = 0b11  # hash-based, checked against the source
    return (importlib.util.MAGIC_NUMBER + flags.to_bytes(4, "little")
            + importlib.util.source_hash(source) + marshal.dumps(code))
