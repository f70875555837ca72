"""What a sandbox leaves behind, found and removed: its processes by uid, its workdir mounts.

Used by :meth:`rnncourse.sandbox.Sandbox.kill_all` and :meth:`~rnncourse.sandbox.Sandbox.close`,
and by a new sandbox for the mounts of a grader that was killed.
"""

import os
import tempfile


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def pids_of_uid(uid):
    found = set()
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}").st_uid == uid and alive(int(name)):
                    found.add(int(name))
            except FileNotFoundError:
                pass
    return found


def umount(path):
    from rnncourse.sandbox.confine import MNT_DETACH, _c

    _c().umount2(os.fsencode(path), MNT_DETACH)


def umount_stale():
    """Unmount workdir tmpfs left by a grader that was killed (their control directory is gone)."""
    try:
        with open("/proc/self/mountinfo") as f:
            lines = f.read().splitlines()
    except OSError:
        return
    for line in lines:
        fields = line.split()
        try:
            source = fields[fields.index("-") + 2]
        except (ValueError, IndexError):
            continue
        if source.startswith("rnncourse:rnncourse-sandbox-") and not os.path.exists(
                os.path.join(tempfile.gettempdir(), source.split(":", 1)[1])):
            umount(fields[4].encode().decode("unicode_escape"))
