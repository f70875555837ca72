"""rnncourse.run.kernel: the spec of a kernel, its warm-up, and an unconfined kernel's life."""

import json
import os

import pytest

from rnncourse.run import kernel as kernel_mod
from rnncourse.run.kernel import Kernel, KernelSpec, warmup_argument
from rnncourse.run.tasks import Task


def _exec_code(argument):
    prefix = "--IPKernelApp.exec_lines="
    assert argument.startswith(prefix)
    (line,) = json.loads(argument[len(prefix):])
    return line


def test_warmup_argument():
    assert warmup_argument(warm=False, figures=True) is None
    warm = _exec_code(warmup_argument(warm=True, figures=True))
    assert "import numpy" in warm and "InlineBackend" not in warm
    assert "'<rnncourse-warmup>'" in warm and warm.endswith(", {})")  # a private namespace
    cold = _exec_code(warmup_argument(warm=False, figures=False))
    assert "import numpy" not in cold and "InlineBackend.figure_formats = set()" in cold


def test_spec_key_tells_interchangeable_kernels_apart():
    base = Task.from_dict({"files": {"a.py": b"1"}})
    key = KernelSpec.from_task(base).key()
    assert KernelSpec.from_task(Task.from_dict({"files": {"a.py": b"1"}})).key() == key
    for other in ({"files": {"a.py": b"2"}}, {"files": {"b.py": b"1"}},
                  {"files": {"a.py": b"1"}, "limits": {"memory": 10 ** 9}},
                  {"files": {"a.py": b"1"}, "execute": {"timeout": 5}},
                  {"files": {"a.py": b"1"}, "figures": False},
                  {"files": {"a.py": b"1"}, "confine": False}):
        assert KernelSpec.from_task(Task.from_dict(other)).key() != key, other


@pytest.fixture
def plain_kernel():
    task = Task.from_dict({"files": {"released.txt": b"R"}, "confine": False, "warm": False})
    kernel = Kernel(KernelSpec.from_task(task)).start()
    yield kernel
    kernel.close()


def test_an_unconfined_kernel_gets_its_files_and_leaves_nothing(plain_kernel):
    workdir = plain_kernel.workdir
    plain_kernel.add_files({"mine.txt": b"M"})
    assert sorted(os.listdir(workdir)) == ["mine.txt", "released.txt"]
    assert os.stat(workdir).st_mode & 0o777 == 0o700
    assert plain_kernel.usable() and 0 <= plain_kernel.age() < kernel_mod.SPARE_MAX_AGE
    assert plain_kernel.judge is None and plain_kernel.sandbox is None
    assert plain_kernel.cpu_seconds() >= 0
    plain_kernel.close()
    assert not os.path.exists(workdir) and not plain_kernel.usable()
    plain_kernel.close()  # twice is fine


def test_an_old_kernel_is_not_usable(plain_kernel, monkeypatch):
    monkeypatch.setattr(kernel_mod, "SPARE_MAX_AGE", 0.0)
    assert not plain_kernel.usable()
