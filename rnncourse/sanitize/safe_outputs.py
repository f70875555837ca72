"""nbconvert preprocessor: :func:`rnncourse.sanitize.safe_notebook.sanitize`, for stock nbgrader
and the formgrader.

The course's ``nbgrader_config.py`` names it (by import path) as the last step of
``nbgrader autograde`` (so the autograded notebook is stored harmless) and as a
preprocessor of every ``HTMLExporter`` (so ``nbgrader generate_feedback`` and the
formgrader's submission view render a harmless copy, even of a notebook graded
before or elsewhere).
"""

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from rnncourse.sanitize.safe_notebook import sanitize


class SafeOutputs(Preprocessor):
    """Drop or neutralise whatever in a notebook's outputs, markdown and metadata could run in a browser."""

    enabled = Bool(True, help="Sanitize (nbconvert's preprocessors are off by default; this one is on)."
                   ).tag(config=True)

    def preprocess(self, nb, resources):
        notes = sanitize(nb)
        for note in notes:
            self.log.warning("Made inert (removed or rewritten, as it could run in a browser): %s", note)
        return nb, resources
