"""CPU time of a process tree, read from ``/proc`` (a kernel's, a fork server's and all it ran)."""

import os


def tree_cpu(root):
    """User + system CPU seconds of ``root`` and its live descendants (their reaped children included).

    Parameters
    ----------
    root : int
        A process id; a process that is gone counts 0.

    Returns
    -------
    float
    """
    tick = os.sysconf("SC_CLK_TCK")
    parent, cpu = {}, {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parent[int(name)] = int(fields[1])
        # utime, stime, cutime, cstime (proc(5): fields 14-17, here after the name and state).
        cpu[int(name)] = sum(int(x) for x in fields[11:15])
    total, todo = 0, [root]
    children = {}
    for pid, ppid in parent.items():
        children.setdefault(ppid, []).append(pid)
    while todo:
        pid = todo.pop()
        total += cpu.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total / tick


def forked_cpu():
    """CPU seconds of this process's fork server and all it ran so far, or None without one."""
    from rnncourse.sandbox import fork_server_pid

    pid = fork_server_pid()
    return tree_cpu(pid) if pid is not None else None
