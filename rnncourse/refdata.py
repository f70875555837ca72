"""Reference arrays for the hidden tests: ``python -m rnncourse.refdata``.

For every function and test case the file holds the inputs, the reference
outputs (normalised as in :mod:`rnncourse.cases`) and the outputs of each
typical mistake, and of each pair of them made together, where they differ.
Everything is derived from the master notebook with fixed seeds, so
regenerating gives identical bytes.
"""

import argparse
import functools
import io
import json
import zipfile
from pathlib import Path

import numpy as np

from . import FUNCTIONS, cases, mistakes, paths, reference, tree


def call(module, fn, inputs):
    """Call ``module.fn`` on copies of ``inputs`` with numpy warnings silenced."""
    import copy

    with np.errstate(all="ignore"):
        return getattr(module, fn)(*copy.deepcopy(inputs))


def _outputs(module, fn, inputs_all):
    return [cases.normalise(fn, call(module, fn, inputs)) for inputs in inputs_all]


def _same_outputs(a, b):
    """True when two lists (per case) of normalised outputs agree within the tolerance."""
    return all(isinstance(x[k], np.ndarray) and isinstance(y[k], np.ndarray) and cases.matches(x[k], y[k])
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
        inputs_all = [cases.make_inputs(fn, case, ref) for case in cases.CASES]
        expected_all = _outputs(ref, fn, inputs_all)
        wrong_all = _mistake_outputs(fn, inputs_all)
        for i, (inputs, expected) in enumerate(zip(inputs_all, expected_all)):
            wrong = {}
            for label, got_all in wrong_all.items():
                got = got_all[i]
                wrong[label] = {k: v for k, v in got.items()
                                if isinstance(v, np.ndarray) and not cases.matches(v, expected[k])}
            items.update(_pack(f"{fn}/{i}", {
                "inputs": list(inputs), "expected": expected, "mistakes": wrong}))
    return items


def _pack(prefix, obj):
    """``{prefix/spec: json, prefix/data: float64}``: all arrays of ``obj`` in one flat array.

    Two members per test case instead of one per array: the file is read in
    every grading kernel, and each zip member costs more than its numbers.
    """
    spec, arrays = tree.pack(obj)
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
    return tree.unpack(meta["tree"], arrays)


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


@functools.lru_cache(maxsize=4)
def _load(path):
    if not Path(path).exists():
        raise FileNotFoundError(f"reference arrays not found at {path}: run "
                                f"`python -m rnncourse.refdata` (or `make refdata`)")
    with np.load(path, allow_pickle=False) as npz:
        files = {k: npz[k] for k in npz.files}
    out = {}
    for fn in FUNCTIONS:
        out[fn] = [_unpack(files, f"{fn}/{i}") for i in range(len(cases.CASES))]
    return out


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
