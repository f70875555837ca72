"""Where submissions run: local worker processes, this process, or a Dask cluster.

Each executor takes a task (a plain dict, :func:`rnncourse.run.worker.execute_submission`'s
argument) and gives back its result dict."""

import concurrent.futures
import hashlib
import os
import signal
import threading
import time

from rnncourse.run.runlock import GradingRefused


def _watch_parent(parent):
    """In a worker process: when the coordinator dies (even by SIGKILL), kill our kernels and exit."""
    def loop():
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                from rnncourse.run import worker

                try:
                    worker.shutdown()
                finally:
                    os._exit(1)

    threading.Thread(target=loop, name="rnncourse-parent-watch", daemon=True).start()


def _init_local_worker(parent, template, inherited_fds=()):
    from rnncourse import sandbox

    # Forked from the coordinator: its fork server object and its run lock are not ours (the
    # server is shared through RNNCOURSE_FORK_SERVER; the lock must end with the coordinator).
    sandbox.forget_fork_server()
    for fd in inherited_fds:
        try:
            os.close(fd)
        except OSError:
            pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the coordinator handles Ctrl-C
    _watch_parent(parent)
    from multiprocessing import util

    from rnncourse.run import worker

    # A forked worker ends with os._exit (no atexit): multiprocessing's finalizers still run.
    util.Finalize(None, worker.shutdown, exitpriority=10)
    if template is not None:
        from rnncourse.run.worker import warm_up

        try:
            warm_up(template)
        except Exception:  # the first task reports any real problem
            pass


def preload_for_workers(confined):
    """Import what a worker needs (and load the reference) here, once: forked workers inherit it."""
    import nbclient  # noqa: F401
    import nbformat  # noqa: F401
    from nbgrader.preprocessors import Execute  # noqa: F401

    from rnncourse.run import trusted_reference, worker  # noqa: F401 (worker: imported once, before forking)

    if confined:
        from rnncourse.verdicts import judge, recheck  # noqa: F401 (imported once, before forking)

        trusted_reference.load()


class LocalExecutor:
    """Local worker processes.

    Forked from the coordinator (``start="fork"``, where the platform has it)
    before it opens the gradebook and while it has no other thread: they
    start with nbgrader, nbclient and the reference already imported
    (:func:`preload_for_workers`), instead of importing them again each.
    ``inherited_fds`` are closed in the workers (the run lock).
    """

    def __init__(self, workers, template=None, start="fork", inherited_fds=()):
        import multiprocessing

        if start not in multiprocessing.get_all_start_methods():
            start = "spawn"
        self.workers = workers
        self.pool = concurrent.futures.ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context(start),
            initializer=_init_local_worker, initargs=(os.getpid(), template, tuple(inherited_fds)))
        for _ in range(workers):  # start them all now (each warms up while the class is read)
            self.pool.submit(int)
        self.label = "local"

    def submit(self, task):
        from rnncourse.run.worker import execute_submission

        return self.pool.submit(execute_submission, task)

    def wait(self, futures, timeout):
        done, _ = concurrent.futures.wait(futures, timeout=timeout,
                                          return_when=concurrent.futures.FIRST_COMPLETED)
        return done

    def result(self, fut):
        return fut.result()

    def close(self, cancel=False):
        self.pool.shutdown(wait=not cancel, cancel_futures=cancel)


class InlineExecutor:
    """``workers=0``: execute in this process, one at a time (for debugging)."""

    def __init__(self):
        self.workers = 1
        self.label = "in-process"

    def submit(self, task):
        from rnncourse.run.worker import execute_submission

        fut = concurrent.futures.Future()
        try:
            fut.set_result(execute_submission(task))
        except BaseException as exc:
            fut.set_exception(exc)
        return fut

    def wait(self, futures, timeout):
        return set(futures)

    def result(self, fut):
        return fut.result()

    def close(self, cancel=False):
        from rnncourse.run.worker import shutdown

        shutdown()


class DaskExecutor:
    def __init__(self, address, template=None):
        try:
            from distributed import Client
        except ImportError as exc:
            raise GradingRefused(f"--scheduler needs dask.distributed: {exc}") from None
        try:
            self.client = Client(address, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise GradingRefused(f"cannot reach the Dask scheduler at {address}: {exc}. Start it "
                                 "(`dask scheduler`) and its workers (`dask worker ADDRESS`) first") from None
        nthreads = sum(self.client.nthreads().values())
        if nthreads == 0:
            self.client.wait_for_workers(1, timeout=60)
            nthreads = sum(self.client.nthreads().values())
        self.workers = max(1, nthreads)
        self.label = address
        if template is not None:
            from rnncourse.run.worker import warm_up

            try:
                self.client.run(warm_up, template, wait=False)
            except Exception:  # the first task reports any real problem
                pass

    def submit(self, task):
        from rnncourse.run.worker import execute_submission

        key = f"rnncourse-grade-{task['student']}-{hashlib.sha256(os.urandom(8)).hexdigest()[:8]}"
        return self.client.submit(execute_submission, task, key=key, pure=False, retries=1)

    def wait(self, futures, timeout):
        from distributed import wait

        try:
            done, _ = wait(list(futures), timeout=timeout, return_when="FIRST_COMPLETED")
        except (TimeoutError, concurrent.futures.TimeoutError):
            return set()
        return set(done)

    def result(self, fut):
        try:
            return fut.result()
        finally:
            fut.release()

    def close(self, cancel=False):
        self.client.close()
