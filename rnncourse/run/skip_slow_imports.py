"""Imported first by the grading processes (coordinator and workers), before nbformat.

jsonschema, under nbformat, registers an IRI format checker when the optional
``rfc3987_syntax`` module imports, and that import builds a parser grammar: about
a second of CPU in every process that reads a notebook. Nothing in grading
validates IRIs; without the module, jsonschema skips that one format.
"""

import sys

sys.modules.setdefault("rfc3987_syntax", None)
