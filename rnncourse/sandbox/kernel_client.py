"""The kernel client the grader's kernel managers hand to nbclient.

jupyter_client's ``wait_for_ready`` ends by reading IOPub until it has been
silent for 0.2 s. A grader pays those 0.2 s per submission, idle. This client
stops instead at the message that ends the exchange: the ``idle`` status
that the kernel publishes on IOPub after answering the ``kernel_info``
request whose reply came back. Having read it, IOPub is known to be
connected (the point of the original check: a subscriber that joined late
would miss the first cell's output) and nothing of the exchange is left
unread. When IOPub delivers nothing within those 0.2 s, the request is sent
again, as jupyter_client does; once it has delivered something, the idle
status is awaited a while longer.
"""

import time
from queue import Empty

from jupyter_client.asynchronous import AsyncKernelClient

IOPUB_WAIT = 0.2
"""Seconds to wait for IOPub before asking the kernel again (jupyter_client's value)."""

IDLE_WAIT = 5.0
"""Seconds to wait for the idle status once IOPub has delivered something (it is connected
then, and the idle status follows: on a busy machine, later than ``IOPUB_WAIT``)."""


class ReadyKernelClient(AsyncKernelClient):
    """An ``AsyncKernelClient`` whose :meth:`wait_for_ready` ends on the kernel's idle status."""

    async def wait_for_ready(self, timeout=None):
        """Return when the kernel answered ``kernel_info`` and IOPub carried its idle status.

        Raises ``RuntimeError`` when the kernel dies first or ``timeout``
        seconds pass, like jupyter_client's.
        """
        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        while True:
            self.kernel_info()
            try:
                reply = await self.shell_channel.get_msg(timeout=1)
            except Empty:
                reply = None
            if reply is not None and reply["msg_type"] == "kernel_info_reply":
                if await self._idle_seen(reply["parent_header"].get("msg_id")):
                    self._handle_kernel_info_reply(reply)
                    return
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")

    async def _idle_seen(self, request_id):
        """Read IOPub up to the idle status of ``request_id``; False if it falls silent first."""
        until = time.monotonic() + IOPUB_WAIT
        connected = False
        while True:
            left = until - time.monotonic()
            if left <= 0:
                return False
            try:
                msg = await self.iopub_channel.get_msg(timeout=left)
            except Empty:
                return False
            if not connected:
                connected, until = True, time.monotonic() + IDLE_WAIT
            if (msg["msg_type"] == "status" and msg["content"].get("execution_state") == "idle"
                    and msg["parent_header"].get("msg_id") == request_id):
                return True
