"""The per-cell cap on what a graded notebook keeps: every kind of output counts.

Printed text (``stream``), displays (``display_data``, ``update_display_data``),
cell values (``execute_result``) and errors (``ename``, ``evalue``,
``traceback``) all count towards one budget per cell (``Limits.output_bytes``,
1 MiB). Past it, what is cut is said in a short notice; an error is never
dropped, only shortened (a test cell with an error scores 0, as in stock
nbgrader), a cell value keeps the start of its plain text, and the first
hidden test record of a cell (:data:`rnncourse.verdicts.diagnosis.MIME`, a few hundred
bytes of JSON) is kept whole even when the budget is spent.

:func:`cap_message` is applied to each message while the notebook runs (so a
flood is never held in memory), :func:`cap_notebook` to the executed notebook
before it is written (whatever reached it by another route).
"""

import json

CAPPED = ("stream", "display_data", "update_display_data", "execute_result", "error")
"""Message and output types that count towards a cell's budget."""

RECORD_MIME = "application/vnd.rnncourse.diagnosis+json"
"""As :data:`rnncourse.verdicts.diagnosis.MIME`: a hidden test's record, kept past the budget
(once per cell)."""

RECORD_BYTES = 4096
"""Largest record kept past the budget."""

ERROR_TEXT = 4096
"""Characters kept of an error's name, of its message and of each traceback line once the budget is spent."""

TRACEBACK_LINES = 20
"""Traceback lines kept (the last ones) once the budget is spent."""


def notice(limit):
    return f"\n... output cut by the grader: over {int(limit)} bytes in this cell ...\n"


def size(kind, content):
    """Characters of one output's content (or one IOPub message's ``content``)."""
    if not isinstance(content, dict):
        return 0
    if kind == "stream":
        text = content.get("text", "")
        return len(text) if isinstance(text, str) else len("".join(map(str, text)))
    if kind == "error":
        tb = content.get("traceback") or []
        return (len(str(content.get("ename", ""))) + len(str(content.get("evalue", "")))
                + sum(len(str(t)) for t in (tb if isinstance(tb, list) else [tb])))
    data = content.get("data") or {}
    if not isinstance(data, dict):
        return len(str(data))
    return sum(len(v) if isinstance(v, str) else len(json.dumps(v)) for v in data.values())


def is_record(kind, content):
    """Whether an output is a hidden test's record alone, small enough to keep past the budget."""
    data = content.get("data") if kind == "display_data" and isinstance(content, dict) else None
    return (isinstance(data, dict) and list(data) == [RECORD_MIME]
            and size(kind, content) <= RECORD_BYTES)


def shortened(kind, content, room, limit, record_kept=True):
    """The content to keep of an output that does not fit in ``room`` characters, or None to drop it.

    An error keeps its type with the start of its name, message and last
    traceback lines; a cell value the start of its plain text; a record
    (:func:`is_record`) is kept whole unless ``record_kept`` (the cell already
    kept one past its budget); other outputs are dropped (the caller adds one
    :func:`notice` per cell).
    """
    if not record_kept and is_record(kind, content):
        return content
    room = max(0, int(room))
    if kind == "error":
        tb = content.get("traceback") or []
        tb = tb if isinstance(tb, list) else [str(tb)]
        keep = max(room, ERROR_TEXT)
        return {**content,
                "ename": str(content.get("ename", ""))[:ERROR_TEXT],
                "evalue": str(content.get("evalue", ""))[:keep] + notice(limit),
                "traceback": [str(t)[:ERROR_TEXT] for t in tb[-TRACEBACK_LINES:]] + [notice(limit)]}
    if kind == "execute_result":
        data = content.get("data") or {}
        text = data.get("text/plain", "") if isinstance(data, dict) else ""
        text = text if isinstance(text, str) else "".join(map(str, text))
        return {**content, "data": {"text/plain": text[:room] + notice(limit)}, "metadata": {}}
    return None


def cap_notebook(nb, limit):
    """Cut the outputs of every code cell of ``nb`` (a NotebookNode) to ``limit`` characters in all."""
    import nbformat

    for cell in nb.cells:
        if cell.get("cell_type") != "code" or not cell.get("outputs"):
            continue
        used, kept, cut, record_kept = 0, [], False, False
        for out in cell.outputs:
            kind = out.get("output_type")
            n = size(kind, out) if kind in CAPPED else len(json.dumps(out))
            if used + n <= limit:
                kept.append(out)
                used += n
                continue
            content = shortened(kind, out, limit - used, limit, record_kept)
            record_kept = record_kept or (content is not None and is_record(kind, out))
            if not cut:
                kept.append(nbformat.v4.new_output("stream", name="stdout", text=notice(limit)))
                cut = True
            if content is not None:
                kept.append(nbformat.from_dict(content))
            used = limit
        cell.outputs = kept
    return nb
