"""The confined client: the only code of the package a confined kernel or re-check imports.

It imports nothing of the package but itself (and ``rnncourse/__init__``, plain
names), the standard library and NumPy (``.importlinter``'s confined-client
contract). :func:`files` is what the grader copies into a sandbox.
"""

import os

SHARED = ("__init__.py", "grading.py")
"""Files of ``rnncourse`` outside this folder that the confined copy holds too: the package's
plain names and the hidden cell's module (whose own imports the hidden-cell contract checks)."""


def files():
    """The confined copy of the package: ``[(host file, path inside), ...]``.

    Every ``.py`` file of this folder (the contract covers each module in it,
    so a new one is confined-safe by construction and copied without a list
    to keep up), and :data:`SHARED`. Paths inside start with ``rnncourse/``.
    """
    here = os.path.dirname(os.path.abspath(__file__))
    package = os.path.dirname(here)
    own = sorted(name for name in os.listdir(here) if name.endswith(".py"))
    return ([(os.path.join(package, name), f"rnncourse/{name}") for name in SHARED]
            + [(os.path.join(here, name), f"rnncourse/client/{name}") for name in own])
