"""Hidden-test checks, called from the graded cells of the notebook.

A hidden test cell holds one line, ``check("rnn_forward", globals())``, so
nothing of the reference shows in feedback. ``check``

* takes the inputs and expected outputs from the reference arrays (computed
  before the student's code runs), and passes the student's function copies;
* grades a sequence function with the reference cell in its place, and a
  backward pass with reference caches, so one mistake costs points once;
* turns every output into a plain float64 array (type and shape checked
  first) and compares it within a stated tolerance;
* names typical mistakes by comparing with the outputs of known-wrong
  variants of the reference;
* returns the points earned, which nbgrader takes as partial credit, and
  raises when nothing is right. Nothing is written to stderr.
"""

import contextlib
import copy
import io
import warnings

import numpy as np

from . import cases, refdata, reference


@contextlib.contextmanager
def _quiet():
    """Silence warnings and stray prints of the student's code (stderr zeroes a cell)."""
    sink = io.StringIO()
    with warnings.catch_warnings(), np.errstate(all="ignore"), \
            contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        warnings.simplefilter("ignore")
        yield


@contextlib.contextmanager
def _reference_cell(fn, namespace):
    """Put the reference cell in the namespace while ``fn`` is graded."""
    dep = cases.DEPENDS.get(fn)
    if dep is None:
        yield
        return
    missing = object()
    saved = namespace.get(dep, missing)
    namespace[dep] = getattr(reference.load(), dep)
    try:
        yield
    finally:
        if saved is missing:
            namespace.pop(dep, None)
        else:
            namespace[dep] = saved


def run_case(fn, func, namespace, case):
    """Outputs of the student's ``func`` on one test case (normalised), or one error for all."""
    shapes = {k: v.shape for k, v in case["expected"].items()}
    try:
        with _quiet(), _reference_cell(fn, namespace):
            result = func(*copy.deepcopy(case["inputs"]))
    except NotImplementedError:
        err = cases.OutputError(f"{fn} is not implemented yet (it raised NotImplementedError)")
        return {k: err for k in shapes}
    except Exception as exc:  # any failure of student code is reported, never raised
        err = cases.OutputError(f"{fn} raised {type(exc).__name__}: {exc}")
        return {k: err for k in shapes}
    return cases.normalise(fn, result, shapes)


def diagnose(fn, data, func, namespace):
    """Per output: ``None`` when right in every case, else a message."""
    verdicts = {k: None for k in cases.OUTPUTS[fn]}
    got_all = [run_case(fn, func, namespace, case) for case in data]
    for k in verdicts:
        for i, (case, got) in enumerate(zip(data, got_all)):
            g, exp = got[k], case["expected"][k]
            if isinstance(g, cases.OutputError):
                verdicts[k] = str(g)
                break
            if not cases.matches(g, exp):
                err = float(np.max(np.abs(g - exp)))
                verdicts[k] = (f"wrong values in test case {i + 1} (shape {exp.shape}): "
                               f"max abs error {err:.3g}, tolerance {cases.ATOL:g} + "
                               f"{cases.RTOL:g} * |expected|")
                named = [label for label in _labels(data, k)
                         if all(isinstance(gg[k], np.ndarray) and
                                cases.matches(gg[k], c["mistakes"].get(label, {}).get(k, c["expected"][k]))
                                for c, gg in zip(data, got_all))]
                if named:
                    verdicts[k] += "\n      This looks like: " + "; or ".join(
                        _message(fn, label) for label in named) + "."
                break
    return verdicts


def _labels(data, key):
    return [label for label in data[0]["mistakes"]
            if any(key in c["mistakes"].get(label, {}) for c in data)]


def _message(fn, label):
    from .mistakes import MISTAKES

    return next(m.message for m in MISTAKES if m.fn == fn and m.label == label)


def check(fn, namespace):
    """Grade the student's ``fn`` found in ``namespace``; return the points earned."""
    points = cases.POINTS[fn]
    func = namespace.get(fn)
    if not callable(func):
        raise AssertionError(f"{fn} is not defined: run the cell that defines it, then this one.")
    verdicts = diagnose(fn, refdata.load()[fn], func, namespace)
    n_ok = sum(v is None for v in verdicts.values())
    lines = [f"{fn}: {n_ok} of {len(verdicts)} outputs correct"]
    for k, v in verdicts.items():
        lines.append(f"  [{'ok' if v is None else 'XX'}] {k}" + ("" if v is None else f": {v}"))
    report = "\n".join(lines)
    if n_ok == 0:
        raise AssertionError(report)
    print(report)
    return round(points * n_ok / len(verdicts), 4)
