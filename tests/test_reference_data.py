"""The reference comes from the master notebook, and its derived data regenerate identically."""

import numpy as np
import pytest

from rnncourse import FUNCTIONS, cases, mistakes, paths, refdata, reference


def test_reference_is_loaded_from_the_master_notebook(ref):
    for fn in FUNCTIONS:
        code = getattr(ref, fn).__code__
        assert code.co_filename == f"<rnn_lstm_reference:{fn}>"


def test_reference_arrays_regenerate_identically(tmp_path):
    out = refdata.write(tmp_path / "ref.npz")
    assert out.read_bytes() == paths.reference_data().read_bytes(), \
        "rnncourse/data is stale: run `make refdata` and commit"


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
