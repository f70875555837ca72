"""The symbolic links on the way to the interpreter, recreated in a sandbox's new root.

Where the interpreter, the environment or the installation is reached through
symbolic links (a ``.venv`` that links to a shared environment, a home or
course directory that is a link), the wrapper (:mod:`rnncourse.sandbox.confine`)
recreates each link met on the way, pointing where it points on the host, so
the paths the interpreter knows itself by resolve inside as outside.
"""

import os
import sys


def symlinks_on(path, limit=40):
    """The symbolic links met while resolving ``path``, in order: ``[(link, target), ...]``.

    Parameters
    ----------
    path : str
        An absolute path (it need not exist).
    limit : int
        Most links followed (a loop stops there, as the kernel's ``ELOOP``).

    Returns
    -------
    list of (str, str)
        Each link's own path, with every directory above it already resolved
        (so it never passes through another link), and its target as
        ``readlink`` gives it (relative targets stay relative). Recreating
        them in an otherwise empty root makes ``path`` resolve there as on
        the host.
    """
    links = []
    cur = "/"
    todo = [c for c in os.fspath(path).split("/") if c]
    while todo:
        part = todo.pop(0)
        if part == ".":
            continue
        if part == "..":
            cur = os.path.dirname(cur)
            continue
        nxt = os.path.join(cur, part)
        if not os.path.islink(nxt):
            cur = nxt
            continue
        if len(links) >= limit:
            break
        target = os.readlink(nxt)
        links.append((nxt, target))
        if target.startswith("/"):
            cur = "/"
        todo[:0] = [c for c in target.split("/") if c]
    return links


def interpreter_links():
    """The links on the way to this interpreter, its environment and its installation.

    Covers ``sys.executable``, ``sys.prefix``, ``sys.exec_prefix``,
    ``sys.base_prefix``, ``sys.base_exec_prefix`` and the ``home`` of the
    environment's ``pyvenv.cfg`` (where Python looks for its installation
    at start-up): ``[[link, target], ...]`` without repeats.
    """
    paths = [sys.executable, sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix]
    try:
        with open(os.path.join(sys.prefix, "pyvenv.cfg"), encoding="utf-8") as f:
            for line in f:
                key, sep, value = line.partition("=")
                if sep and key.strip() == "home" and os.path.isabs(value.strip()):
                    paths.append(value.strip())
    except OSError:
        pass
    seen = {}
    for p in paths:
        for link, target in symlinks_on(os.path.abspath(p)):
            seen.setdefault(link, target)
    return [[link, target] for link, target in seen.items()]
