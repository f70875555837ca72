"""rnncourse.run.kernel_pool: spare kernels, each handed out once, thrown away when too old."""

import pytest

from rnncourse.run import kernel_pool


class FakeKernel:
    """Stands in for rnncourse.run.kernel.Kernel: records starts and closes."""

    started, fail = [], False

    def __init__(self, spec):
        self.spec, self.closed, self.alive = spec, False, True

    def start(self):
        if FakeKernel.fail:
            raise OSError("no kernel today")
        FakeKernel.started.append(self)
        return self

    def usable(self):
        return self.alive

    def close(self):
        self.closed = True


@pytest.fixture
def pool(monkeypatch):
    FakeKernel.started, FakeKernel.fail = [], False
    monkeypatch.setattr(kernel_pool, "Kernel", FakeKernel)
    p = kernel_pool.KernelPool()
    yield p
    p.close()


def test_a_spare_is_handed_out_once(pool):
    pool.prestart("k", "spec")
    pool.prestart("k", "spec")  # one spare per key
    assert len(FakeKernel.started) == 1
    spare = FakeKernel.started[0]
    assert pool.take("k", "spec") == (spare, True)
    kernel, was_spare = pool.take("k", "spec")
    assert kernel is not spare and was_spare is False and kernel.spec == "spec"
    other, was_spare = pool.take("other", "spec2")
    assert was_spare is False and other.spec == "spec2"


def test_a_dead_spare_is_closed_and_replaced(pool):
    pool.prestart("k", "spec")
    spare = FakeKernel.started[0]
    spare.alive = False
    kernel, was_spare = pool.take("k", "spec")
    assert spare.closed and kernel is not spare and not was_spare


def test_a_failed_prestart_is_reported_once_and_frees_its_key(pool):
    FakeKernel.fail = True
    pool.prestart("k", "spec")
    assert pool.take_last_error() == "OSError: no kernel today"
    assert pool.take_last_error() is None
    FakeKernel.fail = False
    pool.prestart("k", "spec")
    assert len(FakeKernel.started) == 1


def test_expiry_and_close_close_the_spares(pool):
    pool.prestart("a", "spec")
    pool.prestart("b", "spec")
    a, b = FakeKernel.started
    pool._expire("a", b)  # not a's spare: nothing happens
    assert not a.closed and not b.closed
    pool._expire("a", a)
    assert a.closed and "a" not in pool.spares
    pool.close()
    assert b.closed and pool.spares == {}
