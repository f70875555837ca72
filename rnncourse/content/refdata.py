"""Reference arrays for the hidden tests: ``python -m rnncourse.content.refdata``.

For every function and test case the file holds the inputs, the reference
outputs (normalised as in :mod:`rnncourse.client.testcases`) and the outputs of each
typical mistake, and of each pair of them made together, where they differ.
Everything is derived from the master notebook with fixed seeds, so
regenerating on the same machine gives identical bytes. On another CPU the
BLAS kernels round matrix products differently in the last bits (up to
1.4e-14 measured with OpenBLAS's other core types), so :func:`differences`
compares with :data:`RTOL` and :data:`ATOL`, a million times tighter than
grading (:func:`rnncourse.client.testcases.matches`).
"""

import argparse
import functools
import io
import json
import zipfile
from pathlib import Path

import numpy as np

from rnncourse import FUNCTIONS, paths
from rnncourse.client import nested, testcases
from rnncourse.content import mistakes, reference

RTOL = 1e-12
"""Relative tolerance of :func:`differences` (grading: 1e-6)."""
ATOL = 1e-14
"""Absolute tolerance of :func:`differences` (grading: 1e-8)."""


def differences(path_a, path_b, rtol=RTOL, atol=ATOL):
    """How two reference files differ beyond rounding: a list of messages, empty when they agree.

    Parameters
    ----------
    path_a, path_b : str or Path
        Reference files (as :func:`write` makes them); ``b`` is the expected one.
    rtol, atol : float
        Arrays (and floats) agree when ``|a - b| <= atol + rtol * |b|`` everywhere;
        both files must hold the same functions, cases, outputs and mistakes, with
        the same shapes, and every other value (labels, text) must be equal.

    Returns
    -------
    list of str
        One line per value that differs, named by its place
        (``fn/case/expected/output``, ``fn/case/mistakes/label/output``...).
    """
    trees = []
    for path in (path_a, path_b):
        try:
            trees.append(_read(path))
        except KeyError as exc:
            return [f"{path}: {exc} is missing: not a reference file of this version"]
    out = []
    _compare(trees[0], trees[1], "", out, rtol, atol, (str(path_a), str(path_b)))
    return out


def _compare(x, y, where, out, rtol, atol, names):
    """Append to ``out`` how ``x`` differs from the expected ``y`` (both unpacked trees)."""
    place = where.lstrip("/") or "(the file)"
    if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
        if not (isinstance(x, np.ndarray) and isinstance(y, np.ndarray)):
            out.append(f"{place}: {type(x).__name__} against {type(y).__name__}")
        elif x.shape != y.shape:
            out.append(f"{place}: shape {x.shape} against {y.shape}")
        else:
            bad = ~(np.abs(x - y) <= atol + rtol * np.abs(y)) & ~((x == y) | (np.isnan(x) & np.isnan(y)))
            if bad.any():
                worst = float(np.max(np.abs(x - y)[bad]))
                out.append(f"{place}: {int(bad.sum())} of {x.size} values differ, by up to {worst:.3g}")
    elif isinstance(x, dict) and isinstance(y, dict):
        for k in sorted(set(x) - set(y)):
            out.append(f"{where}/{k}: only in {names[0]}".lstrip("/"))
        for k in sorted(set(y) - set(x)):
            out.append(f"{where}/{k}: only in {names[1]}".lstrip("/"))
        for k in [k for k in y if k in x]:
            _compare(x[k], y[k], f"{where}/{k}", out, rtol, atol, names)
    elif isinstance(x, (list, tuple)) and type(x) is type(y):
        if len(x) != len(y):
            out.append(f"{place}: {len(x)} items against {len(y)}")
        else:
            for i, (u, v) in enumerate(zip(x, y)):
                _compare(u, v, f"{where}/{i}", out, rtol, atol, names)
    elif (isinstance(x, float) and isinstance(y, float)
          and (abs(x - y) <= atol + rtol * abs(y) or x == y)):
        pass
    elif type(x) is not type(y) or x != y:
        out.append(f"{place}: {x!r:.60} against {y!r:.60}")


def call(module, fn, inputs):
    """Call ``module.fn`` on copies of ``inputs`` with numpy warnings silenced."""
    import copy

    with np.errstate(all="ignore"):
        return getattr(module, fn)(*copy.deepcopy(inputs))


def _outputs(module, fn, inputs_all):
    return [testcases.normalise(fn, call(module, fn, inputs)) for inputs in inputs_all]


def _same_outputs(a, b):
    """True when two lists (per case) of normalised outputs agree within the tolerance."""
    return all(isinstance(x[k], np.ndarray) and isinstance(y[k], np.ndarray) and testcases.matches(x[k], y[k])
               for x, y in zip(a, b) for k in x)


def _mistake_outputs(fn, inputs_all):
    """``{label: per-case outputs}`` of every catalogued mistake of ``fn`` and of every pair
    of them that is told apart from the reference and from each of its two mistakes."""
    single = {m.label: _outputs(mistakes.variant(m), fn, inputs_all) for m in mistakes.for_function(fn)}
    found = dict(single)
    for pair in mistakes.pairs(fn):
        got = _outputs(mistakes.variant(pair), fn, inputs_all)
        if not any(_same_outputs(got, single[label]) for label in pair.label.split(mistakes.PAIR)):
            found[pair.label] = got
    return found


def build_items():
    ref = reference.load()
    items = {}
    for fn in FUNCTIONS:
        inputs_all = [testcases.make_inputs(fn, case, ref) for case in testcases.CASES]
        expected_all = _outputs(ref, fn, inputs_all)
        wrong_all = _mistake_outputs(fn, inputs_all)
        for i, (inputs, expected) in enumerate(zip(inputs_all, expected_all)):
            wrong = {}
            for label, got_all in wrong_all.items():
                got = got_all[i]
                wrong[label] = {k: v for k, v in got.items()
                                if isinstance(v, np.ndarray) and not testcases.matches(v, expected[k])}
            items.update(_pack(f"{fn}/{i}", {
                "inputs": list(inputs), "expected": expected, "mistakes": wrong}))
    return items


def _pack(prefix, obj):
    """``{prefix/spec: json, prefix/data: float64}``: all arrays of ``obj`` in one flat array.

    Two members per test case instead of one per array: the file is read in
    every grading kernel, and each zip member costs more than its numbers.
    """
    spec, arrays = nested.pack(obj)
    shapes = [list(a.shape) for a in arrays]
    data = np.concatenate([a.ravel() for a in arrays]) if arrays else np.zeros(0)
    return {f"{prefix}/spec": np.array(json.dumps({"tree": spec, "shapes": shapes})),
            f"{prefix}/data": data}


def _unpack(files, prefix):
    meta = json.loads(str(files[f"{prefix}/spec"]))
    data, arrays, at = files[f"{prefix}/data"], [], 0
    for shape in meta["shapes"]:
        n = int(np.prod(shape, dtype=np.int64))
        arrays.append(data[at:at + n].reshape(shape))
        at += n
    return nested.unpack(meta["tree"], arrays)


def write(path=None):
    """Write the reference file deterministically (fixed zip timestamps)."""
    path = Path(path or paths.reference_data())
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key, arr in build_items().items():
            raw = io.BytesIO()
            np.lib.format.write_array(raw, np.asarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, raw.getvalue())
    path.write_bytes(buf.getvalue())
    return path


def _read(path):
    with np.load(path, allow_pickle=False) as npz:
        files = {k: npz[k] for k in npz.files}
    return {fn: [_unpack(files, f"{fn}/{i}") for i in range(len(testcases.CASES))] for fn in FUNCTIONS}


@functools.lru_cache(maxsize=4)
def _load(path):
    if not Path(path).exists():
        raise FileNotFoundError(f"reference arrays not found at {path}: run "
                                f"`python -m rnncourse.content.refdata` (or `make refdata`)")
    return _read(path)


def load(path=None):
    """``{fn: [{"inputs": [...], "expected": {...}, "mistakes": {...}}, ...]}``."""
    return _load(str(path or paths.reference_data()))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="where to write (default: the package's data file)")
    args = parser.parse_args(argv)
    print(f"wrote {write(args.out)}")


if __name__ == "__main__":
    main()
