"""The reference comes from the master notebook, and its derived data regenerate (within rounding)."""

import json
import os
import platform
import subprocess
import sys

import numpy as np
import pytest

from rnncourse import FUNCTIONS, cases, mistakes, paths, refdata, reference


def test_reference_is_loaded_from_the_master_notebook(ref):
    for fn in FUNCTIONS:
        code = getattr(ref, fn).__code__
        assert code.co_filename == f"<rnn_lstm_reference:{fn}>"


def test_reference_arrays_regenerate(tmp_path):
    out = refdata.write(tmp_path / "ref.npz")
    diffs = refdata.differences(out, paths.reference_data())
    assert diffs == [], "rnncourse/data is stale: run `make refdata` and commit\n" + "\n".join(diffs[:20])


def test_differences_sees_every_change_beyond_rounding(tmp_path):
    with np.load(paths.reference_data(), allow_pickle=False) as npz:
        key = next(k for k in npz.files if npz[k].dtype == np.float64 and npz[k].size > 1
                   and np.abs(npz[k]).max() > 0.1)
        other = next(k for k in npz.files if npz[k].dtype.kind not in "fc")
        files = {k: npz[k] for k in (key, other)}
    base = tmp_path / "base.npz"
    np.savez(base, **files)

    def variant(name, change):
        changed = dict(files)
        change(changed)
        np.savez(tmp_path / name, **changed)
        return refdata.differences(tmp_path / name, base)

    i = int(np.argmax(np.abs(files[key])))

    def nudge(rel):
        def change(d):
            v = d[key].copy()
            v.flat[i] *= 1 + rel
            d[key] = v
        return change

    assert variant("same.npz", lambda d: None) == []
    assert variant("rounding.npz", nudge(5e-13)) == []        # last bits, as another CPU's BLAS
    assert variant("tiny.npz", nudge(1e-10)) == [f"{key}: 1 of {files[key].size} values differ, "
                                                 f"by up to {abs(files[key].flat[i]) * 1e-10:.3g}"]
    assert variant("missing.npz", lambda d: d.pop(key)) == [f"{key}: only in {base}"]
    assert variant("float32.npz", lambda d: d.update({key: d[key].astype(np.float32)}))[0].startswith(
        f"{key}: float32")
    def relabel(d):
        v = d[other]
        if v.dtype.kind == "U":  # same length, last character changed
            text = str(v.item())
            d[other] = np.asarray(text[:-1] + ("y" if text.endswith("x") else "x"), dtype=v.dtype)
        else:
            d[other] = v + 1

    assert variant("text.npz", relabel) == [f"{other}: values differ"]


ANOTHER_CORE = "Nehalem"
"""An OpenBLAS core type (SSE4.2 kernels: any x86-64 CPU of the last 15 years runs them) whose
rounding differs from that of the AVX2/AVX-512 kernels modern CPUs choose (measured against
SkylakeX's: Nehalem 541 of 1,022 arrays differ, by up to 1.2e-14; SandyBridge 543, 1.2e-14;
Haswell 161, 8.9e-16)."""


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"),
                    reason="OPENBLAS_CORETYPE chooses among x86-64 kernels")
def test_reference_arrays_from_another_blas_kernel_pass(tmp_path):
    code = ("import json, sys, threadpoolctl\n"
            "from rnncourse import refdata\n"
            "refdata.write(sys.argv[1])\n"
            "print(json.dumps([i.get('architecture') for i in threadpoolctl.threadpool_info()"
            " if i.get('internal_api') == 'openblas']))\n")
    out = tmp_path / "elsewhere.npz"
    proc = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True,
                          env={**os.environ, "OPENBLAS_CORETYPE": ANOTHER_CORE}, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    arch = json.loads(proc.stdout.splitlines()[-1])
    assert [a.lower() for a in arch] == [ANOTHER_CORE.lower()], f"numpy's OpenBLAS ran {arch}"
    assert refdata.differences(out, paths.reference_data()) == []
    # The comparison is not vacuous: the same data compared bit for bit would not all agree.
    exact = refdata.differences(out, paths.reference_data(), rtol=0, atol=0)
    print(f"\n{len(exact)} arrays differ in the last bits under {ANOTHER_CORE}; all within tolerance")


@pytest.mark.parametrize("mistake", mistakes.MISTAKES, ids=lambda m: f"{m.fn}-{m.label}")
def test_every_mistake_changes_some_output(mistake):
    data = refdata.load()[mistake.fn]
    assert any(case["mistakes"][mistake.label] for case in data), \
        f"{mistake.label} gives the reference outputs: it cannot be recognised"


def test_every_mistake_edit_applies_to_the_reference():
    src = reference.solution_sources()
    for m in mistakes.MISTAKES:
        for old, _ in m.edits:
            assert old in src[m.fn], (m.label, old)


def test_expected_outputs_have_every_output_of_every_function():
    data = refdata.load()
    for fn in FUNCTIONS:
        assert len(data[fn]) == len(cases.CASES)
        for case in data[fn]:
            assert tuple(case["expected"]) == cases.OUTPUTS[fn]
            assert all(isinstance(v, np.ndarray) and v.dtype == np.float64
                       for v in case["expected"].values())
