"""nbconvert preprocessor: leave the hidden tests' records out of a notebook being rendered.

A hidden test cell records its verdict for the class report as a display output
with the MIME type :data:`rnncourse.verdicts.diagnosis.MIME` (JSON data). No renderer
shows that type, but nbconvert warns once per export that it cannot represent
it, and leaves an empty output area for it. The course's ``nbgrader_config.py``
names this preprocessor after :class:`rnncourse.sanitize.safe_outputs.SafeOutputs` for
every ``HTMLExporter`` (``nbgrader generate_feedback``, the formgrader's
submission view), so the rendered copy has no such output. Only the copy being
rendered changes: the autograded notebook keeps its records.
"""

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from rnncourse.verdicts.diagnosis import MIME


class HideRecords(Preprocessor):
    """Remove :data:`~rnncourse.verdicts.diagnosis.MIME` data (and outputs left with nothing) from
    code cells."""

    enabled = Bool(True, help="Hide the records (nbconvert's preprocessors are off by default; "
                              "this one is on).").tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if cell.get("cell_type") != "code" or not cell.get("outputs"):
            return cell, resources
        kept = []
        for out in cell.outputs:
            data = out.get("data")
            if isinstance(data, dict) and MIME in data:
                del data[MIME]
                if not data and out.get("output_type") == "display_data":
                    continue
            kept.append(out)
        cell.outputs = kept
        return cell, resources
