"""Memory and CPU cgroups of one sandbox (root mode, where the grader may create them)."""

import os
import tempfile


def _own_cgroups():
    """``(controllers, path)`` of every hierarchy this process belongs to (``/proc/self/cgroup``)."""
    try:
        with open("/proc/self/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    return [tuple(line.split(":", 2)[1:]) for line in lines if line.count(":") >= 2]


def make_memory_cgroup(name, limits):
    """A memory cgroup (v1 or v2) capped at ``limits.memory_total``; its path, or None."""
    found = None
    for controllers, path in _own_cgroups():
        if "memory" in controllers.split(","):
            found = (os.path.join("/sys/fs/cgroup/memory", path.lstrip("/")), "memory.limit_in_bytes")
            break
        if controllers == "" and os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
            found = (os.path.join("/sys/fs/cgroup", path.lstrip("/")), "memory.max")
    if found is None:
        return None
    base, limit_file = found
    group = _new_group(base, name, {limit_file: int(limits.memory_total)})
    if group and limit_file == "memory.limit_in_bytes":
        try:  # no swapping around the limit (v1, when swap accounting is on)
            with open(os.path.join(group, "memory.memsw.limit_in_bytes"), "w") as f:
                f.write(str(int(limits.memory_total)))
        except OSError:
            pass
    return group


def _remove_stale_groups(base):
    """Remove this grader's cgroups under ``base`` left by a run that was killed.

    Such a group is empty and its sandbox's control directory (same name, in the
    temporary directory) is gone; ``rmdir`` fails harmlessly on a group still in use.
    """
    try:
        names = os.listdir(base)
    except OSError:
        return
    for old in names:
        if old.startswith("rnncourse-sandbox-") and not os.path.exists(
                os.path.join(tempfile.gettempdir(), old)):
            try:
                os.rmdir(os.path.join(base, old))
            except OSError:
                pass


CPU_PERIOD_US = 100_000
"""Period of the CPU cgroup's quota (the kernel's default): a sandbox gets ``cpus`` times this per period."""


def make_cpu_cgroup(name, limits, memory_group):
    """A CPU cgroup capped at ``limits.cpus`` cores; its path, or None.

    cgroup v1: a group of that name in the ``cpu`` hierarchy
    (``cpu.cfs_quota_us``). cgroup v2: ``cpu.max`` of the memory group
    (``memory_group``, the same directory) when the cpu controller is enabled there.
    """
    quota = max(1000, int(limits.cpus * CPU_PERIOD_US))
    if memory_group and os.path.exists(os.path.join(memory_group, "cgroup.controllers")):
        try:
            with open(os.path.join(memory_group, "cpu.max"), "w") as f:
                f.write(f"{quota} {CPU_PERIOD_US}")
            return memory_group
        except OSError:
            return None
    base = None
    for controllers, path in _own_cgroups():
        if "cpu" in controllers.split(","):
            for mount in ("/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"):
                if os.path.exists(os.path.join(mount, "cpu.cfs_quota_us")):
                    base = os.path.join(mount, path.lstrip("/"))
                    break
    if base is None:
        return None
    return _new_group(base, name, {"cpu.cfs_period_us": CPU_PERIOD_US, "cpu.cfs_quota_us": quota})


def _new_group(base, name, settings):
    """Create the cgroup ``base/name`` and write ``settings`` (``{file: value}``, in order).

    Returns its path, or None (and no group left behind) when either step fails.
    """
    _remove_stale_groups(base)
    group = os.path.join(base, name)
    try:
        os.mkdir(group)
    except OSError:
        return None
    try:
        for file, value in settings.items():
            with open(os.path.join(group, file), "w") as f:
                f.write(str(value))
    except OSError:
        os.rmdir(group)
        return None
    return group


def cgroup_pids(group):
    if not group:
        return set()
    try:
        with open(os.path.join(group, "cgroup.procs")) as f:
            return {int(p) for p in f.read().split()}
    except (OSError, ValueError):
        return set()
