"""One grading run at a time in a course: the run lock."""

import os
import socket


class GradingRefused(Exception):
    """Grading cannot start safely here; the message says why and what to do."""



def run_lock(course):
    """Hold ``.grade.lock`` in the course for this run: one coordinator, hence one writer, at a time.

    The kernel releases the lock when the process ends in any way (even SIGKILL).
    """
    import fcntl

    path = course.root / ".grade.lock"
    f = open(path, "a+")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        who = f.read().strip() or "another process"
        f.close()
        raise GradingRefused(f"another grading run holds {path} ({who}): wait for it to finish or "
                             "stop it, then run again (it resumes where that run stopped)") from None
    f.seek(0)
    f.truncate()
    f.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
    f.flush()
    return f
