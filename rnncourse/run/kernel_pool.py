"""A worker process's spare kernels, started ahead for the next submission; each is handed out once."""

import atexit
import threading

from rnncourse.run.kernel import SPARE_MAX_AGE, Kernel


class KernelPool:
    """Per-process spare kernels, keyed by :meth:`rnncourse.run.kernel.KernelSpec.key`.

    A kernel is used for exactly one submission; a spare nobody takes within
    :data:`rnncourse.run.kernel.SPARE_MAX_AGE` seconds is closed.

    Attributes
    ----------
    last_error : str or None
        Why the last prestart failed (reported with the next result, then cleared).
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.spares = {}
        self.last_error = None
        atexit.register(self.close)

    def take(self, key, spec):
        """``(kernel, was_spare)``: the spare for ``key`` if still usable, else a kernel started now."""
        with self.lock:
            spare = self.spares.pop(key, None)
        if spare is not None:
            if spare.usable():
                return spare, True
            spare.close()
        return Kernel(spec).start(), False

    def prestart(self, key, spec):
        """Start the spare for ``key`` (unless there is one); a failure goes to :attr:`last_error`."""
        with self.lock:
            if key in self.spares:
                return
            self.spares[key] = None  # reserved while it starts
        try:
            kernel = Kernel(spec).start()
        except Exception as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            with self.lock:
                self.spares.pop(key, None)
            return
        with self.lock:
            self.spares[key] = kernel
        timer = threading.Timer(SPARE_MAX_AGE, self._expire, args=(key, kernel))
        timer.daemon = True
        timer.start()

    def take_last_error(self):
        """:attr:`last_error`, cleared."""
        error, self.last_error = self.last_error, None
        return error

    def _expire(self, key, kernel):
        """A spare nobody took in time (the run ended, or a Dask worker went idle) is closed."""
        with self.lock:
            if self.spares.get(key) is not kernel:
                return
            del self.spares[key]
        kernel.close()

    def close(self):
        """Close every spare."""
        with self.lock:
            spares, self.spares = list(self.spares.values()), {}
        for k in spares:
            if k is not None:
                k.close()
