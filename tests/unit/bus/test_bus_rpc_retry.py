"""A request whose copy or reply is lost (a broker restart) is sent again within its retry window,
and the first reply to any copy answers it; without a window it fails after one timeout."""

from __future__ import annotations

import asyncio

import pytest

from silobridge.bus.base import Message
from silobridge.bus.memory import MemoryBus
from silobridge.bus.rpc import CORRELATION_ID, REPLY_TO, RpcClient
from silobridge.errors import BusUnavailable, RequestTimeout


class LossyServer:
    """Drops the first ``lose`` requests it takes (no reply, as a broker restart loses one);
    answers the rest after ``delay_s``, without holding up the next request."""

    def __init__(self, bus: MemoryBus, lose: int, delay_s: float = 0.0) -> None:
        self.bus, self.lose, self.delay_s, self.seen = bus, lose, delay_s, 0
        self._replies: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        await self.bus.subscribe("svc.rpc", self._on_request, group="svc")

    async def _on_request(self, msg: Message) -> None:
        self.seen += 1
        if self.seen > self.lose:
            task = asyncio.create_task(self._reply(msg))
            self._replies.add(task)
            task.add_done_callback(self._replies.discard)

    async def _reply(self, msg: Message) -> None:
        await asyncio.sleep(self.delay_s)
        await self.bus.publish(
            msg.headers[REPLY_TO], b"re:" + msg.body, headers={CORRELATION_ID: msg.headers[CORRELATION_ID]}
        )


async def test_a_lost_request_is_sent_again_within_the_window(bus: MemoryBus) -> None:
    server = LossyServer(bus, lose=2)
    await server.start()
    client = RpcClient(bus, "c")
    assert await client.request("svc.rpc", b"x", timeout=0.2, retry_for=5) == b"re:x"
    assert server.seen == 3
    await client.close()


async def test_without_a_window_one_timeout_fails_naming_the_topic(bus: MemoryBus) -> None:
    server = LossyServer(bus, lose=1)
    await server.start()
    client = RpcClient(bus, "c")
    with pytest.raises(RequestTimeout, match=r"no reply on svc\.rpc within 0\.2s"):
        await client.request("svc.rpc", b"x", timeout=0.2)
    assert server.seen == 1
    await client.close()


async def test_the_window_bounds_the_wait_and_counts_the_attempts(bus: MemoryBus) -> None:
    server = LossyServer(bus, lose=100)
    await server.start()
    client = RpcClient(bus, "c")
    started = asyncio.get_running_loop().time()
    with pytest.raises(RequestTimeout, match=r"\(\d+ attempts\)"):
        await client.request("svc.rpc", b"x", timeout=0.2, retry_for=1.0)
    assert 0.9 < asyncio.get_running_loop().time() - started < 2.0
    assert server.seen >= 4
    await client.close()


async def test_a_late_reply_to_the_first_copy_answers(bus: MemoryBus) -> None:
    server = LossyServer(bus, lose=0, delay_s=0.5)  # slower than the timeout: copies pile up
    await server.start()
    client = RpcClient(bus, "c")
    started = asyncio.get_running_loop().time()
    assert await client.request("svc.rpc", b"x", timeout=0.2, retry_for=5) == b"re:x"
    assert asyncio.get_running_loop().time() - started < 1.0  # the first copy's reply, not the last's
    await client.close()


async def test_a_refused_publish_is_sent_again(bus: MemoryBus, monkeypatch: pytest.MonkeyPatch) -> None:
    server = LossyServer(bus, lose=0)
    await server.start()
    client = RpcClient(bus, "c")
    await client.start()
    publish, refusals = bus.publish, [1]

    async def flaky_publish(topic: str, body: bytes, **kwargs: object) -> str:
        if topic == "svc.rpc" and refusals:
            refusals.pop()
            raise BusUnavailable("broker restarting")
        return await publish(topic, body, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(bus, "publish", flaky_publish)
    assert await client.request("svc.rpc", b"x", timeout=0.2, retry_for=5) == b"re:x"
    with pytest.raises(BusUnavailable):
        refusals.append(1)
        await client.request("svc.rpc", b"y", timeout=0.2)
    await client.close()
