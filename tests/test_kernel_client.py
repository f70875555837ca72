"""The grader's kernel client: ready at the kernel's idle status, not after 0.2 s of silence."""

import asyncio
from queue import Empty

import pytest

from rnncourse.sandbox.kernel_client import ReadyKernelClient


class FakeChannel:
    """Messages handed out in order; ``Empty`` when none is left (as a timed-out get_msg)."""

    def __init__(self):
        self.queue = []
        self.waited = []

    async def get_msg(self, timeout=None):
        self.waited.append(timeout)
        if not self.queue:
            raise Empty
        return self.queue.pop(0)


class Client(ReadyKernelClient):
    """A client whose kernel is a script: ``rounds`` says what each kernel_info request gets."""

    def __init__(self, rounds, alive=True):
        super().__init__()
        self.rounds, self.alive, self.sent = list(rounds), alive, []
        self._shell, self._iopub = FakeChannel(), FakeChannel()

    @property
    def shell_channel(self):
        return self._shell

    @property
    def iopub_channel(self):
        return self._iopub

    def kernel_info(self):
        msg_id = f"req{len(self.sent)}"
        self.sent.append(msg_id)
        reply, iopub = self.rounds.pop(0) if self.rounds else (False, [])
        if reply:
            self._shell.queue.append({"msg_type": "kernel_info_reply", "parent_header": {"msg_id": msg_id},
                                      "content": {"status": "ok"}})
        for state, parent in iopub:
            self._iopub.queue.append({"msg_type": "status", "content": {"execution_state": state},
                                      "parent_header": {"msg_id": parent or msg_id}})
        return msg_id

    async def _async_is_alive(self):
        return self.alive

    def _handle_kernel_info_reply(self, msg):
        self.ready_with = msg


def test_ready_at_the_idle_status_of_its_request():
    c = Client([(True, [("busy", None), ("idle", None)])])
    asyncio.run(c.wait_for_ready(timeout=5))
    assert c.sent == ["req0"] and c.ready_with["parent_header"]["msg_id"] == "req0"
    assert c.iopub_channel.queue == []


def test_asks_again_when_iopub_missed_the_exchange():
    # A late subscriber misses the first exchange: nothing on IOPub, so the request is repeated.
    c = Client([(True, []), (True, [("busy", None), ("idle", None)])])
    asyncio.run(c.wait_for_ready(timeout=5))
    assert c.sent == ["req0", "req1"]


def test_an_idle_status_of_another_request_is_not_enough():
    c = Client([(True, [("idle", "someone-else")]), (True, [("busy", None), ("idle", None)])])
    asyncio.run(c.wait_for_ready(timeout=5))
    assert c.sent == ["req0", "req1"]


def test_a_dead_kernel_is_reported():
    c = Client([], alive=False)
    with pytest.raises(RuntimeError, match="died"):
        asyncio.run(c.wait_for_ready(timeout=5))


def test_a_late_idle_status_is_awaited_once_iopub_is_connected():
    """The busy status came: IOPub is connected, so the idle status is awaited past IOPUB_WAIT."""
    import time

    import rnncourse.sandbox.kernel_client as kc

    c = Client([(True, [("busy", None)])])
    late = {"at": None}

    async def get_msg(timeout=None):  # the idle status of req0 arrives 0.3 s after the busy one
        q = c.iopub_channel.queue
        if q:
            late["at"] = time.monotonic() + 0.3
            return q.pop(0)
        if late["at"] is None or time.monotonic() + timeout < late["at"]:
            await asyncio.sleep(timeout)
            raise Empty
        await asyncio.sleep(max(0.0, late["at"] - time.monotonic()))
        late["at"] = None
        return {"msg_type": "status", "content": {"execution_state": "idle"},
                "parent_header": {"msg_id": "req0"}}

    c.iopub_channel.get_msg = get_msg
    assert kc.IDLE_WAIT > 0.3 > kc.IOPUB_WAIT
    asyncio.run(c.wait_for_ready(timeout=5))
    assert c.sent == ["req0"]
