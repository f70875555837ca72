"""The grading run: coordinator, executors, worker, scoring, gradebook writer (trusted side).

Importing any part of it first makes jsonschema skip a slow optional import
(:mod:`rnncourse.run.skip_slow_imports`), before anything imports nbformat.
"""

import rnncourse.run.skip_slow_imports  # noqa: F401
