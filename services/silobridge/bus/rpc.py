"""Request/reply over publish/subscribe: correlation id + reply topic + timeout."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable

from silobridge.bus.base import Bus, Message, Subscription
from silobridge.errors import RequestTimeout

log = logging.getLogger(__name__)

REPLY_TO = "reply-to"
CORRELATION_ID = "correlation-id"

RpcHandler = Callable[[bytes], Awaitable[bytes]]


class RpcClient:
    """One private reply topic per client; many requests in flight at once."""

    def __init__(self, bus: Bus, name: str) -> None:
        self._bus = bus
        self._reply_topic = f"reply.{name}.{uuid.uuid4().hex[:12]}"
        self._pending: dict[str, asyncio.Future[bytes]] = {}
        self._sub: Subscription | None = None
        self._start_lock = asyncio.Lock()

    async def start(self) -> None:
        async with self._start_lock:  # concurrent first requests must not subscribe twice
            if self._sub is not None:
                return
            group = self._reply_topic.replace(".", "-")
            self._sub = await self._bus.subscribe(
                self._reply_topic, self._on_reply, group=group, durable=False
            )

    async def close(self) -> None:
        if self._sub is not None:
            await self._sub.cancel()
            with contextlib.suppress(Exception):
                await self._bus.delete_group(self._reply_topic.replace(".", "-"))
            self._sub = None
        for fut in self._pending.values():
            fut.cancel()
        self._pending.clear()

    async def _on_reply(self, msg: Message) -> None:
        fut = self._pending.pop(msg.headers.get(CORRELATION_ID, ""), None)
        if fut is not None and not fut.done():
            fut.set_result(msg.body)

    async def request(self, topic: str, body: bytes, *, timeout: float = 10.0) -> bytes:
        if self._sub is None:
            await self.start()
        cid = uuid.uuid4().hex
        fut: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._pending[cid] = fut
        try:
            await self._bus.publish(topic, body, headers={REPLY_TO: self._reply_topic, CORRELATION_ID: cid})
            # asyncio.timeout, not wait_for: on 3.11 wait_for drops a cancellation that arrives in
            # the loop turn the reply does, so a stopping service's loop would carry on.
            async with asyncio.timeout(timeout):
                return await fut
        except TimeoutError as exc:
            raise RequestTimeout(f"no reply on {topic} within {timeout:.1f}s") from exc
        finally:
            self._pending.pop(cid, None)


async def serve(bus: Bus, topic: str, handler: RpcHandler, *, group: str) -> Subscription:
    """Answer requests on ``topic``; the handler's bytes go back to the caller's reply topic."""

    async def on_request(msg: Message) -> None:
        reply_to = msg.headers.get(REPLY_TO)
        reply = await handler(msg.body)
        if reply_to:
            await bus.publish(reply_to, reply, headers={CORRELATION_ID: msg.headers.get(CORRELATION_ID, "")})

    return await bus.subscribe(topic, on_request, group=group)
