"""The verdict on one function's outputs (trusted side): compare, name the mistakes, report.

:func:`compare` turns the student's normalised outputs and the reference
arrays into a :class:`Diagnosis`: per output right or what is wrong (type
and shape checked first, then values within a stated tolerance), and the
typical mistakes named by comparing with the outputs of known-wrong variants
of the reference (one catalogued mistake, or two made together): once for the
function when one explanation covers every wrong output, else per group of
outputs. :func:`report` gives the points and the text for people,
:func:`record` the machine-readable record (:mod:`rnncourse.verdicts.diagnosis`).

The judge runs these on what the confined kernel sends. :func:`local_check`
is local mode (stock ``nbgrader autograde``, no judge): the reference arrays
and the reference cell are read in the kernel and the student's function runs
there. ``rnncourse.grading.check`` imports this module only then; the
confined copy of the package does not hold it.
"""

from dataclasses import dataclass, field

import numpy as np

from rnncourse.client import testcases
from rnncourse.client.runcase import quiet, run_case
from rnncourse.content import mistakes, refdata, reference
from rnncourse.verdicts import diagnosis


@dataclass
class Diagnosis:
    """What is wrong with one function: per output a verdict, and the mistakes named.

    Attributes
    ----------
    fn : str
        Function name.
    outputs : dict
        Output name -> ``None`` when right in every case, else what is wrong
        (which case, by how much; never a reference value).
    named : list of list of str
        Explanations of every wrong output at once, as alternatives: each a
        list of mistake labels of :mod:`rnncourse.content.mistakes` made together (one
        label, or two for a combination). Empty when nothing explains them all.
    by_output : dict
        Output name -> alternatives (as in ``named``) for the wrong outputs that
        ``named`` does not cover.
    """

    fn: str
    outputs: dict
    named: list = field(default_factory=list)
    by_output: dict = field(default_factory=dict)

    def mistakes(self):
        """Every mistake label named, in catalogue order of first mention."""
        seen = []
        for alternatives in [self.named, *self.by_output.values()]:
            for labels in alternatives:
                seen.extend(label for label in labels if label not in seen)
        return seen

    def to_dict(self):
        return {"fn": self.fn, "outputs": dict(self.outputs),
                "named": [list(x) for x in self.named],
                "by_output": {k: [list(x) for x in v] for k, v in self.by_output.items()},
                "mistakes": self.mistakes()}

    @classmethod
    def from_dict(cls, d):
        return cls(str(d["fn"]), {str(k): (None if v is None else str(v)) for k, v in d["outputs"].items()},
                   [[str(x) for x in alt] for alt in d.get("named", [])],
                   {str(k): [[str(x) for x in alt] for alt in v] for k, v in d.get("by_output", {}).items()})

    # A Diagnosis reads like its ``outputs`` dict (``report`` and older callers).
    def items(self):
        return self.outputs.items()

    def values(self):
        return self.outputs.values()

    def __len__(self):
        return len(self.outputs)


def _wrong_values(i, got, exp, key):
    err = float(np.max(np.abs(got - exp)))
    where = f"the {exp.size} numbers of its arrays" if key.startswith("cache") else f"shape {exp.shape}"
    return f"wrong values in test case {i + 1} ({where}): max abs error {err:.3g}"


def compare(fn, data, got_all):
    """The :class:`Diagnosis` of the student's outputs ``got_all`` (trusted side).

    Parameters
    ----------
    fn : str
        Function name.
    data : list of dict
        The reference cases of ``fn`` (``refdata.load()[fn]``): ``"expected"``
        and ``"mistakes"`` arrays per case (a mistake's arrays only where they
        differ from the expected ones).
    got_all : list of dict
        Per case, output name -> normalised float64 array or ``OutputError``.

    Notes
    -----
    A catalogued mistake (or pair of mistakes made together) *explains* an
    output when the student's output equals the mistaken reference's in every
    case. One that explains every output the student returned, right and
    wrong, is named once for the function; a single mistake is preferred to a
    pair. Otherwise each wrong output is explained on its own, and outputs
    with the same explanation are named together.
    """
    outputs = {k: None for k in testcases.OUTPUTS[fn]}
    for k in outputs:
        for i, (case, got) in enumerate(zip(data, got_all)):
            g, exp = got[k], case["expected"][k]
            if isinstance(g, testcases.OutputError):
                outputs[k] = str(g)
                break
            if not testcases.matches(g, exp):
                outputs[k] = _wrong_values(i, g, exp, k)
                break
    diag = Diagnosis(fn, outputs)
    wrong = [k for k, v in outputs.items() if v is not None and k not in _errors(got_all)]
    if not wrong:
        return diag
    arrays = [k for k in outputs if k not in _errors(got_all)]
    labels = list(data[0]["mistakes"])

    def explains(label, k):
        return all(testcases.matches(got[k], case["mistakes"].get(label, {}).get(k, case["expected"][k]))
                   for case, got in zip(data, got_all))

    for single in (True, False):
        group = [x for x in labels if (mistakes.PAIR not in x) == single]
        diag.named = [x.split(mistakes.PAIR) for x in group if all(explains(x, k) for k in arrays)]
        if diag.named:
            return diag
    for k in wrong:
        touching = [x for x in labels if any(k in c["mistakes"].get(x, {}) for c in data)]
        found = [x for x in touching if mistakes.PAIR not in x and explains(x, k)] or \
                [x for x in touching if mistakes.PAIR in x and explains(x, k)]
        if found:
            diag.by_output[k] = [x.split(mistakes.PAIR) for x in found]
    return diag


def _errors(got_all):
    return {k for got in got_all for k, v in got.items() if isinstance(v, testcases.OutputError)}


def reference_stand_in(fn):
    """The stand-in for the reference cell ``fn`` calls, in local mode: that cell itself (or None)."""
    dep = testcases.DEPENDS.get(fn)
    if dep is None:
        return None
    with quiet():  # as the student's code: nothing the notebook's cells print reaches the cell
        return getattr(reference.load(), dep)


def diagnose(fn, data, func, namespace):
    """The :class:`Diagnosis` of the student's ``func`` (runs it here, with the reference cell)."""
    stand_in = reference_stand_in(fn)
    return compare(fn, data, [run_case(fn, func, namespace, case, stand_in) for case in data])


def _explanation(fn, alternatives):
    texts = []
    for labels in alternatives:
        ms = [mistakes.by_label(fn, label) for label in labels]
        texts.append(ms[0].message if len(ms) == 1 else
                     "two mistakes together: " + "; and ".join(m.message for m in ms))
    return "; or ".join(texts) + "."


def report(fn, verdicts):
    """``(points, n_ok, text)`` of a function's :class:`Diagnosis` (or plain per-output verdicts).

    The text says which outputs are wrong and by how much, then names the
    mistakes: once for the function when one explanation covers every wrong
    output, else once per group of outputs that share an explanation. The
    machine-readable record of the same verdicts is :func:`record`'s.
    """
    n_ok = sum(v is None for v in verdicts.values())
    lines = [f"{fn}: {n_ok} of {len(verdicts)} outputs correct"]
    for k, v in verdicts.items():
        lines.append(f"  [{'ok' if v is None else 'XX'}] {k}" + ("" if v is None else f": {v}"))
    if any(v is not None and v.startswith("wrong values") for v in verdicts.values()):
        lines.append(f"  (right means within {testcases.ATOL:g} + {testcases.RTOL:g} * |expected| "
                     "everywhere)")
    named = getattr(verdicts, "named", None)
    if named:
        lines.append("  This looks like: " + _explanation(fn, named))
    groups = {}
    for k, alternatives in getattr(verdicts, "by_output", {}).items():
        groups.setdefault(tuple(map(tuple, alternatives)), []).append(k)
    for alternatives, keys in groups.items():
        lines.append(f"  {', '.join(keys)} {'looks' if len(keys) == 1 else 'look'} like: "
                     + _explanation(fn, alternatives))
    return round(testcases.POINTS[fn] * n_ok / len(verdicts), 4), n_ok, "\n".join(lines)


def record(fn, verdicts):
    """The machine-readable record of a report's verdicts, as a dict.

    See :func:`rnncourse.verdicts.diagnosis.from_verdicts`; the class report reads it.
    """
    return diagnosis.from_verdicts(fn, verdicts).to_dict()


def local_check(fn, func, namespace):
    """Local mode: grade ``func`` here against the course's reference; ``(points, n_ok, report, record)``."""
    verdicts = diagnose(fn, refdata.load()[fn], func, namespace)
    points, n_ok, text = report(fn, verdicts)
    return points, n_ok, text, record(fn, verdicts)
