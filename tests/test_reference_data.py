"""The reference comes from the master notebook, and its derived data regenerate (within rounding)."""

import json
import os
import platform
import subprocess
import sys

import numpy as np
import pytest

from rnncourse import FUNCTIONS, paths
from rnncourse.client import testcases
from rnncourse.content import mistakes, refdata, reference


def test_reference_is_loaded_from_the_master_notebook(ref):
    for fn in FUNCTIONS:
        code = getattr(ref, fn).__code__
        assert code.co_filename == f"<rnn_lstm_reference:{fn}>"


def test_reference_arrays_regenerate(tmp_path):
    out = refdata.write(tmp_path / "ref.npz")
    diffs = refdata.differences(out, paths.reference_data())
    assert diffs == [], "rnncourse/data is stale: run `make refdata` and commit\n" + "\n".join(diffs[:20])


def test_differences_sees_every_change_beyond_rounding(tmp_path):
    ref = paths.reference_data()
    with np.load(ref, allow_pickle=False) as npz:
        files = {k: npz[k] for k in npz.files}
    data, spec = "lstm_backward/0/data", "lstm_backward/0/spec"
    i = int(np.argmax(np.abs(files[data])))
    meta = json.loads(str(files[spec]))

    def variant(name, change):
        changed = dict(files)
        change(changed)
        np.savez(tmp_path / name, **changed)
        return refdata.differences(tmp_path / name, ref)

    def nudge(rel):
        def change(d):
            v = d[data].copy()
            v.flat[i] *= 1 + rel
            d[data] = v
        return change

    def drop_mistake(d):
        mistakes = dict(meta["tree"]["d"])["mistakes"]["d"]
        label = mistakes.pop()[0]
        d[spec] = np.array(json.dumps(meta))
        dropped.append(label)

    assert variant("same.npz", lambda d: None) == []
    assert variant("rounding.npz", nudge(5e-13)) == []        # last bits, as another CPU's BLAS
    got = variant("tiny.npz", nudge(1e-10))
    assert len(got) == 1 and got[0].startswith("lstm_backward/0/") and " 1 of " in got[0], got
    assert got[0].endswith(f"values differ, by up to {abs(files[data].flat[i]) * 1e-10:.3g}")
    dropped = []
    assert variant("fewer.npz", drop_mistake) == [f"lstm_backward/0/mistakes/{dropped[0]}: only in {ref}"]
    assert variant("member.npz", lambda d: d.pop(data)) == [
        f"{tmp_path / 'member.npz'}: '{data}' is missing: not a reference file of this version"]


ANOTHER_CORE = "Nehalem"
"""An OpenBLAS core type (SSE4.2 kernels: any x86-64 CPU of the last 15 years runs them) whose
rounding differs from that of the AVX2/AVX-512 kernels modern CPUs choose (measured against
SkylakeX's, of 2,776 arrays: Nehalem 2,098 differ, by up to 1.4e-14; SandyBridge 2,103, 1.4e-14;
Haswell 671, 1.8e-15)."""


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"),
                    reason="OPENBLAS_CORETYPE chooses among x86-64 kernels")
def test_reference_arrays_from_another_blas_kernel_pass(tmp_path):
    code = ("import json, sys, threadpoolctl\n"
            "from rnncourse.content import refdata\n"
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
        assert len(data[fn]) == len(testcases.CASES)
        for case in data[fn]:
            assert tuple(case["expected"]) == testcases.OUTPUTS[fn]
            assert all(isinstance(v, np.ndarray) and v.dtype == np.float64
                       for v in case["expected"].values())
