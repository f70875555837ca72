"""Machine-readable diagnoses of a hidden test, recorded beside its report and read back.

Every hidden test records, besides the report the student reads, one display
output that only machines read: a bundle with the single MIME type
:data:`MIME` whose data is the JSON of a :class:`Record`::

    {"application/vnd.rnncourse.diagnosis+json":
        {"fn": "rnn_forward", "v": 1, "outputs": {"a": {"ok": false, "mistakes": ["a0_every_step"]}}}}

No renderer of nbconvert or JupyterLab knows that type, so the feedback, the
formgrader and the notebook show nothing for it, and nbgrader's scoring ignores
display outputs. Whatever recorded the cell (the autograded notebook after
stock ``nbgrader autograde``) thus also recorded which outputs were wrong and
which named mistakes explain them; under ``make grade`` the judge returns the
same record beside the report (see :mod:`rnncourse.grading`). :func:`from_cell`
is the one reader of a hidden test cell's record, so the class report never
re-runs student code and never depends on the report's words. Notebooks graded
before the record became a display output ended the report's text with a line
``rnncourse-diagnosis: {...}`` (:data:`MARKER`); :func:`parse` still reads it.

The mistakes named in a verdict are found with :func:`named_mistakes`, a small
adapter over the catalogue (:mod:`rnncourse.content.mistakes`): a catalogued mistake of
the function is named when its message appears in the verdict's text. New
catalogue entries are picked up without any change here.
"""

import json
import re
from dataclasses import dataclass, field

MIME = "application/vnd.rnncourse.diagnosis+json"
"""MIME type of the display output that holds a hidden test's record (no renderer shows it)."""

MARKER = "rnncourse-diagnosis:"
"""Prefix of the line that ended a hidden test's report text before :data:`MIME` (still read)."""

VERSION = 1

_LINE = re.compile(re.escape(MARKER) + r"\s*(\{.*\})")


@dataclass
class OutputVerdict:
    """What the hidden test found for one output of a function.

    Attributes
    ----------
    ok : bool
        Right in every test case.
    mistakes : list of str
        Labels of the named mistakes that explain a wrong value (catalogue labels).
    error : str or None
        ``"missing"`` (not implemented), ``"error"`` (raised, wrong type or shape),
        or None (a value was compared).
    """

    ok: bool
    mistakes: list = field(default_factory=list)
    error: str = None

    def to_dict(self):
        d = {"ok": self.ok}
        if self.mistakes:
            d["mistakes"] = list(self.mistakes)
        if self.error:
            d["error"] = self.error
        return d

    @classmethod
    def from_dict(cls, d):
        return cls(ok=bool(d.get("ok")), mistakes=[str(m) for m in d.get("mistakes") or []],
                   error=d.get("error"))


@dataclass
class Record:
    """A function's verdict: ``outputs`` maps output name -> :class:`OutputVerdict`."""

    fn: str
    outputs: dict

    @property
    def correct(self):
        return all(v.ok for v in self.outputs.values())

    def mistakes(self):
        """Labels named for any output, in first-seen order."""
        return list(dict.fromkeys(m for v in self.outputs.values() for m in v.mistakes))

    def unexplained(self):
        """Outputs with a wrong value that no named mistake explains."""
        return [k for k, v in self.outputs.items() if not v.ok and not v.error and not v.mistakes]

    def errors(self):
        """``{"missing" or "error": [output, ...]}`` of outputs that gave no comparable value."""
        out = {}
        for k, v in self.outputs.items():
            if not v.ok and v.error:
                out.setdefault(v.error, []).append(k)
        return out

    def to_dict(self):
        return {"fn": self.fn, "v": VERSION,
                "outputs": {k: v.to_dict() for k, v in self.outputs.items()}}

    @classmethod
    def from_dict(cls, d):
        return cls(fn=str(d["fn"]),
                   outputs={str(k): OutputVerdict.from_dict(v) for k, v in d["outputs"].items()})


def named_mistakes(fn, text):
    """Labels of the catalogued mistakes of ``fn`` whose message appears in ``text`` (trusted side).

    The longest messages are matched first and removed, so a message that is
    part of another is not named twice.
    """
    from rnncourse.content.mistakes import for_function

    found = []
    for m in sorted(for_function(fn), key=lambda m: -len(m.message)):
        if m.message and m.message in text:
            found.append(m)
            text = text.replace(m.message, "")
    order = [m.label for m in for_function(fn)]
    return sorted(dict.fromkeys(m.label for m in found), key=order.index)


def _labels(alternatives):
    return [label for labels in alternatives for label in labels]


def from_verdicts(fn, verdicts):
    """A :class:`Record` of what ``verdict.compare`` returned.

    ``verdicts``: a ``verdict.Diagnosis`` (per output None or a message, with
    the labels it named as data: ``named`` for the whole function, ``by_output``
    per output), or a plain ``{output: None or message}`` dict, whose named
    mistakes are then read from the messages (:func:`named_mistakes`).
    """
    structured = hasattr(verdicts, "named") or hasattr(verdicts, "by_output")
    whole = _labels(getattr(verdicts, "named", None) or [])
    by_output = getattr(verdicts, "by_output", None) or {}
    outputs = {}
    for k, v in verdicts.items():
        if v is None:
            outputs[k] = OutputVerdict(ok=True)
        elif "is not implemented" in v:
            outputs[k] = OutputVerdict(ok=False, error="missing")
        elif v.startswith("wrong values"):
            labels = (whole + _labels(by_output.get(k, []))) if structured else named_mistakes(fn, v)
            outputs[k] = OutputVerdict(ok=False, mistakes=list(dict.fromkeys(labels)))
        else:
            outputs[k] = OutputVerdict(ok=False, error="error")
    return Record(fn, outputs)


def bundle(diagnosis):
    """The display bundle of a :class:`Record`: ``{MIME: its dict}`` (what a hidden test shows)."""
    return {MIME: diagnosis.to_dict()}


def from_dict(d):
    """The :class:`Record` of a recorded dict (or its JSON text), or None when it does not decode."""
    try:
        if isinstance(d, (str, list)):
            d = json.loads("".join(d) if isinstance(d, list) else d)
        return Record.from_dict(d)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def line(diagnosis):
    """The old marker line of a diagnosis (one line of compact JSON), as :func:`parse` reads it."""
    return MARKER + " " + json.dumps(diagnosis.to_dict(), separators=(",", ":"), sort_keys=False)


def parse(text):
    """``{fn: Record}`` of every marker line found in ``text`` (any framing; the last one wins).

    Accepts the line as printed, inside an exception's message or traceback
    (possibly with ANSI colours or a prefix on the line), or with its quotes
    escaped once (a ``repr`` of the text). Lines that do not decode are ignored.
    """
    found = {}
    if not text:
        return found
    plain = re.sub(r"\x1b\[[0-9;]*m", "", str(text))
    for candidate in (plain, plain.replace('\\"', '"')):
        for m in _LINE.finditer(candidate):
            blob = m.group(1)
            for end in range(len(blob), 0, -1):  # trailing text after the JSON (a quote, a bracket)
                if blob[end - 1] != "}":
                    continue
                try:
                    d = Record.from_dict(json.loads(blob[:end]))
                except (ValueError, KeyError, TypeError, AttributeError):
                    continue
                found[d.fn] = d
                break
        if found:
            break
    return found


def cell_text(cell):
    """Everything a code cell of an executed notebook showed: streams, results, errors."""
    parts = []
    for o in cell.get("outputs", []) or []:
        kind = o.get("output_type")
        if kind == "stream":
            parts.append(str(o.get("text", "")))
        elif kind == "error":
            parts.append(f"{o.get('ename', '')}: {o.get('evalue', '')}")
            parts.extend(str(t) for t in o.get("traceback", []) or [])
        elif kind in ("execute_result", "display_data"):
            parts.append(str((o.get("data") or {}).get("text/plain", "")))
    return "\n".join(parts)


def from_cell(cell, fn):
    """The :class:`Record` of ``fn`` recorded in a hidden test cell's outputs, or None.

    The last :data:`MIME` display output of ``fn`` wins; a cell without one (a
    notebook graded before the record was a display output) is read for the
    old text line (:func:`parse`).
    """
    found = None
    for o in cell.get("outputs", []) or []:
        data = o.get("data") if o.get("output_type") in ("display_data", "execute_result") else None
        if isinstance(data, dict) and MIME in data:
            d = from_dict(data[MIME])
            if d is not None and d.fn == fn:
                found = d
    return found if found is not None else parse(cell_text(cell)).get(fn)
