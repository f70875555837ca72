"""rnncourse.selfstudy.memory_task: the recall task of notebook 2."""

import numpy as np
import pytest

from rnncourse.selfstudy import memory_task


def test_recall_task_has_one_cue_in_its_window_and_a_query_at_the_end():
    n_symbols, delay, cue_window, m = 4, 7, 3, 200
    x, y = memory_task.recall_task(m, n_symbols, delay, cue_window, rng=np.random.default_rng(0))
    T_x = cue_window + delay
    assert x.shape == (n_symbols + 2, m, T_x) and y.shape == (m,)
    np.testing.assert_array_equal(x[:n_symbols].sum(axis=0), 1.0)      # one symbol per step
    np.testing.assert_array_equal(x[n_symbols].sum(axis=1), 1.0)       # one cue per sequence
    cue = memory_task.cue_steps(x)
    assert cue.min() == 0 and cue.max() == cue_window - 1               # anywhere in its window
    assert (T_x - 1 - cue >= delay).all()
    np.testing.assert_array_equal(x[n_symbols + 1, :, -1], 1.0)         # the query, last step only
    assert x[n_symbols + 1, :, :-1].sum() == 0
    np.testing.assert_array_equal(y, np.argmax(x[:n_symbols, np.arange(m), cue], axis=0))


def test_recall_task_is_seeded_and_its_answers_cover_the_alphabet():
    a = memory_task.recall_task(300, 3, delay=2, cue_window=4, rng=np.random.default_rng(5))
    b = memory_task.recall_task(300, 3, delay=2, cue_window=4, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert set(a[1].tolist()) == {0, 1, 2}


@pytest.mark.parametrize("bad", [{"n_symbols": 1}, {"delay": 0}, {"cue_window": 0}, {"m": 0}])
def test_recall_task_refuses_a_task_that_cannot_be_posed(bad):
    kw = {"m": 4, "n_symbols": 4, "delay": 5, "cue_window": 2, **bad}
    with pytest.raises(ValueError, match=f"{next(iter(bad))}={next(iter(bad.values()))}"):
        memory_task.recall_task(**kw)
