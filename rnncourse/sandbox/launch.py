"""``python -I -S launch.py ARGS``: :func:`confine.main` from its cached bytecode.

What :meth:`rnncourse.sandbox.Sandbox.wrap` runs for every confined process.
Run as a script, ``confine.py`` would be compiled anew each time (about 10 ms
of CPU per launch); imported from here, its compiled form is reused. Nothing
else of the course is imported (``-I`` keeps this directory off ``sys.path``:
only ``confine`` is looked up in it).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import confine  # noqa: E402

del sys.path[0]
confine.main(sys.argv[1:])
