"""nbgrader's ``Execute`` preprocessor with a per-cell cap on the size of every output kind."""

import nbformat
from nbgrader.preprocessors import Execute
from traitlets import Integer

from rnncourse.run import outputcap


class CappedExecute(Execute):
    """``Execute`` whose cells keep at most ``output_limit`` bytes of output (:mod:`.outputcap`)."""

    output_limit = Integer(1024 ** 2)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._used, self._cut, self._records = {}, set(), set()

    def output(self, outs, msg, display_id, cell_index):
        return capped_output(self, super().output, outs, msg, display_id, cell_index)


def capped_output(ep, output, outs, msg, display_id, cell_index):
    """nbclient's ``output`` with every output kind counted towards the cell's cap (:mod:`.outputcap`)."""
    kind = msg.get("msg_type")
    if kind not in outputcap.CAPPED:
        return output(outs, msg, display_id, cell_index)
    content = msg.get("content", {})
    used = ep._used.get(cell_index, 0)
    n = outputcap.size(kind, content)
    if used + n <= ep.output_limit:
        ep._used[cell_index] = used + n
        return output(outs, msg, display_id, cell_index)
    ep._used[cell_index] = ep.output_limit
    if cell_index not in ep._cut:
        ep._cut.add(cell_index)
        outs.append(nbformat.v4.new_output("stream", name="stdout", text=outputcap.notice(ep.output_limit)))
    kept = outputcap.shortened(kind, content, ep.output_limit - used, ep.output_limit,
                               cell_index in ep._records)
    if kept is None:
        return None
    if outputcap.is_record(kind, content):
        ep._records.add(cell_index)
    return output(outs, {**msg, "content": kept}, display_id, cell_index)
