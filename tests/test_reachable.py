"""The judge's column rules (rnncourse.verdicts.reachable): the exact paths answer as the tolerant check."""

import numpy as np
import pytest

from rnncourse.content import refdata
from rnncourse.verdicts import reachable


@pytest.fixture(scope="module")
def data():
    return refdata.load()


def _backward_case(data, fn="lstm_backward", dep="lstm_cell_backward"):
    return reachable.CaseColumns(dep, data[fn][0]["inputs"])


def _tolerant_only(case, column, i):
    """``_reached_by`` with the exact sets emptied: what the tolerant check alone says."""
    saved = case._exact[i], case._sums[i]
    case._exact[i], case._sums[i] = set(), set()
    try:
        return case._reached_by(column, i)
    finally:
        case._exact[i], case._sums[i] = saved


def test_a_summed_upstream_gradient_is_found_exactly_and_as_the_tolerant_check_finds_it(data):
    case = _backward_case(data)
    rows, m, T = case.steps.shape
    rng = np.random.default_rng(0)
    earlier = rng.standard_normal((rows, m))  # what the reference returned for each example
    case.add({"da_prev": earlier}, [{i} for i in range(m)])
    for i in (0, m - 1):
        for t in (0, T - 1):
            total = np.ascontiguousarray(case.steps[:, i, t] + earlier[:, i])
            assert total.tobytes() in case._sums[i]  # the exact path answers it ...
            assert case._reached_by(total, i) and _tolerant_only(case, total, i)  # ... as the tolerant one
            near = total * (1 + 1e-9)  # within tolerance, not exact: only the tolerant check
            assert near.tobytes() not in case._sums[i]
            assert case._reached_by(near, i) and _tolerant_only(case, near, i)
            other = np.ascontiguousarray(case.steps[:, i, t] + earlier[:, (i + 1) % m])  # another example's
            assert not case._reached_by(other, i) and not _tolerant_only(case, other, i)
            off = total + 1e-3
            assert not case._reached_by(off, i)


def test_no_non_finite_sum_is_taken_as_exact(data):
    case = _backward_case(data)
    rows, m, _ = case.steps.shape
    bad = np.full((rows, m), np.nan)
    case.add({"da_prev": bad}, [{i} for i in range(m)])
    total = np.ascontiguousarray(case.steps[:, 0, 0] + bad[:, 0])
    assert total.tobytes() not in case._sums[0]
    assert not _tolerant_only(case, total, 0)  # NaN is never within tolerance of anything


@pytest.mark.parametrize("fn,dep", [("rnn_forward", "rnn_cell_forward"),
                                    ("lstm_forward", "lstm_cell_forward")])
def test_forward_states_are_zeros_a0_and_what_came_back_for_the_same_example(data, fn, dep):
    _, a0, _ = data[fn][0]["inputs"]
    case = reachable.CaseColumns(dep, data[fn][0]["inputs"])
    m = a0.shape[1]
    assert case._reached_by(np.zeros(a0.shape[0]), 0)
    assert case._reached_by(np.ascontiguousarray(a0[:, 1]), 1)
    assert not case._reached_by(np.ascontiguousarray(a0[:, 1]), 0)
    later = np.random.default_rng(1).standard_normal(a0.shape)
    case.add((later,), [{i} for i in range(m)])
    assert case._reached_by(np.ascontiguousarray(later[:, 2]), 2)
    assert case._reached_by(later[:, 2] * (1 + 1e-9), 2)  # stacked again after the add
    assert not case._reached_by(np.ascontiguousarray(later[:, 2]), 3)
