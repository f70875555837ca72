"""Reference arrays for the hidden tests: ``python -m rnncourse.refdata``.

For every function and test case the file holds the inputs, the reference
outputs (normalised as in :mod:`rnncourse.cases`) and the outputs of each
typical mistake where they differ. Everything is derived from the master
notebook with fixed seeds, so regenerating gives identical bytes.
"""

import argparse
import functools
import io
import zipfile
from pathlib import Path

import numpy as np

from . import FUNCTIONS, cases, mistakes, paths, reference, tree


def call(module, fn, inputs):
    """Call ``module.fn`` on copies of ``inputs`` with numpy warnings silenced."""
    import copy

    with np.errstate(all="ignore"):
        return getattr(module, fn)(*copy.deepcopy(inputs))


def build_items():
    ref = reference.load()
    variants = {(m.fn, m.label): mistakes.variant(m) for m in mistakes.MISTAKES}
    items = {}
    for fn in FUNCTIONS:
        for i, case in enumerate(cases.CASES):
            inputs = cases.make_inputs(fn, case, ref)
            expected = cases.normalise(fn, call(ref, fn, inputs))
            wrong = {}
            for m in mistakes.for_function(fn):
                got = cases.normalise(fn, call(variants[(m.fn, m.label)], fn, inputs))
                wrong[m.label] = {k: v for k, v in got.items()
                                  if isinstance(v, np.ndarray) and not cases.matches(v, expected[k])}
            items.update(tree.to_npz_items(f"{fn}/{i}", {
                "inputs": list(inputs), "expected": expected, "mistakes": wrong}))
    return items


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
        out[fn] = [tree.from_npz(files, f"{fn}/{i}") for i in range(len(cases.CASES))]
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
