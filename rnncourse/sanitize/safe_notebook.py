"""A graded notebook that shows what the submission printed, drew and wrote, and runs nothing.

:func:`sanitize` walks a notebook (after it was executed and scored) and keeps,
of every output, only what nbconvert and JupyterLab show as text or picture:

- ``text/plain``, ``text/latex`` (both escaped by the renderers), ``image/png``,
  ``image/jpeg``, ``image/gif`` (checked to be base64), ``image/svg+xml`` (shown
  as an ``<img>``, where SVG scripts never run), ``text/html`` cleaned by
  :func:`rnncourse.sanitize.safe_html.clean_html` and ``text/markdown`` by
  :func:`rnncourse.sanitize.safe_html.safe_markdown`; JavaScript, widget views and
  state, Mermaid source (rendered unescaped by nbconvert) and every other kind
  are dropped, with a line saying so when nothing else is left to show;
- the hidden tests' machine-readable record (:data:`rnncourse.verdicts.diagnosis.MIME`,
  JSON data that no renderer shows), kept as plain JSON values only;
- of output metadata only image sizes and backgrounds; of cell metadata the
  nbgrader record, tags of plain characters, the display flags and the
  execution's timestamps (nbclient's, as ISO 8601 strings); of notebook
  metadata the kernel and language (never widget state);
- stream names ``stdout``/``stderr`` only, error and stream texts as strings,
  execution counts only as integers (nbconvert prints them unescaped).

Markdown cells go through :func:`~rnncourse.sanitize.safe_html.safe_markdown`, raw cells
through :func:`~rnncourse.sanitize.safe_html.clean_html` when they hold anything that
could run, and attachments keep only images. Scores are never affected: no
stream, error or ``text/plain`` is removed or changed.
"""

import base64
import binascii
import json
import re
import uuid

from rnncourse.sanitize.safe_html import clean_html, is_clean, safe_markdown
from rnncourse.verdicts.diagnosis import MIME

SHOWN = ("text/plain", "text/latex", "image/png", "image/jpeg", "image/gif", "image/svg+xml",
         "text/html", "text/markdown")
RASTER = ("image/png", "image/jpeg", "image/gif")
RECORD = MIME
"""The one data-only kind kept: a hidden test's record (never rendered, read by the class report)."""
RECORD_CHARS = 65536
"""Longest record kept (as compact JSON); a real one is a few hundred characters."""
CELL_METADATA = ("nbgrader", "tags", "collapsed", "scrolled", "editable", "deletable", "jupyter",
                 "execution")
EXECUTION_TIMES = ("iopub.status.busy", "iopub.execute_input", "shell.execute_reply", "iopub.status.idle")
"""The timestamps nbclient records of a cell's execution (how long it took; `make bench` reads them)."""
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})?")
NOTEBOOK_METADATA = ("kernelspec", "language_info", "nbgrader")
_TAG = re.compile(r"^[\w\-]{1,64}$")
_CELL_ID = re.compile(r"^[a-zA-Z0-9\-_]{1,64}$")
_ATTACHMENT_NAME = re.compile(r"^[\w.\- ]{1,128}$")


def _text(value):
    if isinstance(value, list):
        return "".join(str(v) for v in value)
    return value if isinstance(value, str) else str(value)


def _base64(value):
    text = _text(value)
    try:
        base64.b64decode(re.sub(r"\s+", "", text), validate=True)
    except (binascii.Error, ValueError):
        return None
    return re.sub(r"\s+", "", text)


def _image_metadata(meta):
    out = {}
    if not isinstance(meta, dict):
        return out
    for key in ("width", "height"):
        v = meta.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < 100_000:
            out[key] = v
    if meta.get("needs_background") in ("light", "dark"):
        out["needs_background"] = meta["needs_background"]
    if isinstance(meta.get("unconfined"), bool):
        out["unconfined"] = meta["unconfined"]
    return out


def _record(value):
    """A record's data as plain JSON (what ``json`` reads back), or None when it is not one."""
    try:
        text = json.dumps(value, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return None
    if not isinstance(value, dict) or len(text) > RECORD_CHARS:
        return None
    return json.loads(text)


def _bundle(data, metadata, removed):
    """A display bundle with only what is shown safely; ``removed`` collects the dropped kinds."""
    data = data if isinstance(data, dict) else {}
    out, meta = {}, {}
    for mime, value in data.items():
        if mime == RECORD:
            value = _record(value)
            if value is None:
                removed.add(f"{mime} (not a record)")
            else:
                out[mime] = value
            continue
        if mime not in SHOWN:
            removed.add(str(mime)[:80])
            continue
        if mime in RASTER:
            value = _base64(value)
            if value is None:
                removed.add(f"{mime} (not base64)")
                continue
            image_meta = _image_metadata((metadata or {}).get(mime) if isinstance(metadata, dict) else None)
            if image_meta:
                meta[mime] = image_meta
        elif mime == "text/html":
            if not is_clean(_text(value), ignore_style_sheets=True):
                removed.add("active HTML")
            value = clean_html(_text(value))
        elif mime == "text/markdown":
            value = safe_markdown(_text(value))
        else:
            value = _text(value)
        out[mime] = value
    return out, meta


def _output(out, notes):
    kind = out.get("output_type")
    if kind == "stream":
        name = out.get("name") if out.get("name") in ("stdout", "stderr") else "stdout"
        return {"output_type": "stream", "name": name, "text": _text(out.get("text", ""))}
    if kind == "error":
        tb = out.get("traceback", [])
        return {"output_type": "error", "ename": _text(out.get("ename", "")),
                "evalue": _text(out.get("evalue", "")),
                "traceback": [_text(line) for line in tb] if isinstance(tb, list) else [_text(tb)]}
    if kind not in ("execute_result", "display_data"):
        notes.append(f"an output of kind {str(kind)[:40]!r}")
        return None
    removed = set()
    data, meta = _bundle(out.get("data"), out.get("metadata"), removed)
    if removed:
        notes.append("output " + ", ".join(sorted(removed)))
        if not data:
            data = {"text/plain": f"[not shown: {', '.join(sorted(removed))}]"}
    new = {"output_type": kind, "data": data, "metadata": meta}
    if kind == "execute_result":
        count = out.get("execution_count")
        new["execution_count"] = count if isinstance(count, int) and not isinstance(count, bool) else None
    return new


def _cell_metadata(meta):
    meta = meta if isinstance(meta, dict) else {}
    out = {k: v for k, v in meta.items() if k in CELL_METADATA}
    if "tags" in out:
        tags = out["tags"] if isinstance(out["tags"], list) else []
        out["tags"] = [t for t in tags if isinstance(t, str) and _TAG.match(t)]
    if "jupyter" in out:
        j = out["jupyter"] if isinstance(out["jupyter"], dict) else {}
        out["jupyter"] = {k: v for k, v in j.items()
                          if k in ("source_hidden", "outputs_hidden") and isinstance(v, bool)}
    if "execution" in out:
        e = out["execution"] if isinstance(out["execution"], dict) else {}
        out["execution"] = {k: v for k, v in e.items()
                            if k in EXECUTION_TIMES and isinstance(v, str) and _TIMESTAMP.fullmatch(v)}
        if not out["execution"]:
            del out["execution"]
    for key in ("collapsed", "editable", "deletable"):
        if key in out and not isinstance(out[key], bool):
            del out[key]
    if "scrolled" in out and out["scrolled"] not in (True, False, "auto"):
        del out["scrolled"]
    return out


def _attachments(att):
    out = {}
    if not isinstance(att, dict):
        return out
    for name, bundle in att.items():
        if not (isinstance(name, str) and _ATTACHMENT_NAME.match(name) and isinstance(bundle, dict)):
            continue
        for mime in RASTER:
            if mime in bundle and _base64(bundle[mime]) is not None:
                out[name] = {mime: _base64(bundle[mime])}
                break
    return out


def sanitize(nb):
    """Make ``nb`` (a v4 NotebookNode or dict, changed in place) safe to render anywhere.

    Parameters
    ----------
    nb : NotebookNode
        An executed, already scored notebook.

    Returns
    -------
    notes : list of str
        What was removed or rewritten, one line per cell concerned (empty when
        the notebook was already harmless).
    """
    import nbformat

    notes = []
    meta = nb.get("metadata", {})
    nb["metadata"] = nbformat.from_dict({k: v for k, v in meta.items() if k in NOTEBOOK_METADATA})
    dropped = sorted(str(k)[:40] for k in set(meta) - set(NOTEBOOK_METADATA))
    if dropped:
        notes.append("notebook metadata " + ", ".join(dropped))
    for index, cell in enumerate(nb.get("cells", [])):
        cell_notes = []
        cell["metadata"] = nbformat.from_dict(_cell_metadata(cell.get("metadata")))
        if "id" in cell and not (isinstance(cell["id"], str) and _CELL_ID.match(cell["id"])):
            cell["id"] = uuid.uuid4().hex[:8]
        kind = cell.get("cell_type")
        if kind == "code":
            count = cell.get("execution_count")
            if not (count is None or isinstance(count, int) and not isinstance(count, bool)):
                cell["execution_count"] = None  # the kernel reports it; nbconvert prints it unescaped
                cell_notes.append("execution count")
            outs = [_output(o, cell_notes) for o in cell.get("outputs", []) if isinstance(o, dict)]
            cell["outputs"] = [nbformat.from_dict(o) for o in outs if o is not None]
        elif kind in ("markdown", "raw"):
            if "attachments" in cell:
                cell["attachments"] = nbformat.from_dict(_attachments(cell["attachments"]))
            source = _text(cell.get("source", ""))
            if kind == "markdown":
                new = safe_markdown(source, cell.get("attachments"))
            else:
                new = source if is_clean(source) else clean_html(source)
            if new != source:
                cell_notes.append(f"{kind} source rewritten")
            cell["source"] = new
        if cell_notes:
            notes.append(f"cell {index}: " + "; ".join(cell_notes))
    return notes


def sanitize_json(text):
    """:func:`sanitize` for a notebook as JSON text; ``(json text, notes)``."""
    import nbformat

    nb = nbformat.reads(text, as_version=4)
    notes = sanitize(nb)
    return nbformat.writes(nb), notes
