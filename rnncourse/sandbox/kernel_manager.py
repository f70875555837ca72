"""Kernel managers whose kernel runs in a :class:`rnncourse.sandbox.Sandbox`."""

from jupyter_client import AsyncKernelManager, KernelManager


class _Confined:
    """Mixin: the kernel command is the sandbox's :meth:`~rnncourse.sandbox.Sandbox.wrap` of it.

    nbclient drives the client with asyncio: a blocking client would block its event loop (and
    the check that the kernel is still alive) forever once the kernel dies, so even the
    synchronous manager hands out an asynchronous client.
    """

    client_class = "rnncourse.sandbox.kernel_client.ReadyKernelClient"
    sandbox = None

    def format_kernel_cmd(self, extra_arguments=None):
        return self.sandbox.wrap(super().format_kernel_cmd(extra_arguments))


class ConfinedKernelManager(_Confined, KernelManager):
    """A synchronous manager of a confined kernel (its clients are asynchronous)."""


class AsyncConfinedKernelManager(_Confined, AsyncKernelManager):
    """An asynchronous manager of a confined kernel."""
