"""What a hidden test cell shows: the report, printed or raised, and the record, invisible.

:func:`rnncourse.grading.check` prints the report when some output is right
(the points are the cell's value) and raises :class:`HiddenTestFailure` when
none is (nbgrader scores the cell 0). Before either, it shows the
machine-readable record of the verdict (:mod:`rnncourse.verdicts.diagnosis`) as a
display output of its own MIME type, which no renderer shows.
"""

RECORD_MIME = "application/vnd.rnncourse.diagnosis+json"
"""As ``rnncourse.verdicts.diagnosis.MIME`` (not imported here: the confined copy lacks it)."""


class HiddenTestFailure(AssertionError):
    """A hidden test found nothing right; IPython shows its report alone.

    nbgrader scores a cell with an error output 0, as for any exception; the
    feedback then shows ``_render_traceback_``'s lines (the report) in place of
    a traceback, so no line or path of the grading code reaches the student.
    """

    def _render_traceback_(self):
        return [f"{type(self).__name__}: {self}"]


def show_record(data):
    """Display ``data`` (a record dict) with :data:`RECORD_MIME` only, when running under IPython.

    Nothing renders that type, so the student sees nothing; nbgrader's scoring
    ignores display outputs. In plain Python (no IPython shell) nothing is shown.
    """
    if not isinstance(data, dict):
        return
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return
    if get_ipython() is not None:
        display({RECORD_MIME: data}, raw=True)
