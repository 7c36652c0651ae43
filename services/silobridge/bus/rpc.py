"""Request/reply over publish/subscribe: correlation id + reply topic + timeout."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable

from silobridge.bus.base import Bus, Message, Subscription
from silobridge.errors import BusUnavailable, RequestTimeout

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

    async def request(
        self, topic: str, body: bytes, *, timeout: float = 10.0, retry_for: float = 0.0
    ) -> bytes:
        """The reply to ``body`` on ``topic``; ``RequestTimeout`` when none comes.

        With ``retry_for`` > 0 the request is sent again, under the same correlation id, each time
        ``timeout`` passes without a reply or the bus refuses the publish, until ``retry_for``
        seconds have passed: a broker restart can keep a request or its reply away for longer
        than one ``timeout`` (a client reconnects with backoff). Only for requests the server
        may apply twice; the first reply to any of the copies is the answer.
        """
        if self._sub is None:
            await self.start()
        loop = asyncio.get_running_loop()
        cid = uuid.uuid4().hex
        fut: asyncio.Future[bytes] = loop.create_future()
        self._pending[cid] = fut
        started = loop.time()
        deadline = started + max(timeout, retry_for)
        attempts = 0
        try:
            while True:
                attempts += 1
                try:
                    await self._bus.publish(
                        topic, body, headers={REPLY_TO: self._reply_topic, CORRELATION_ID: cid}
                    )
                except BusUnavailable:
                    if retry_for <= 0 or loop.time() + 1.0 > deadline:
                        raise
                    log.warning("request on %s not published (attempt %d); sending again", topic, attempts)
                    await asyncio.sleep(1.0)
                    continue
                try:
                    # asyncio.timeout, not wait_for: on 3.11 wait_for drops a cancellation that
                    # arrives in the loop turn the reply does, so a stopping service's loop would
                    # carry on.
                    async with asyncio.timeout(max(0.0, min(timeout, deadline - loop.time()))):
                        return await asyncio.shield(fut)
                except TimeoutError as exc:
                    if loop.time() >= deadline:
                        raise RequestTimeout(
                            f"no reply on {topic} within {loop.time() - started:.1f}s"
                            + (f" ({attempts} attempts)" if attempts > 1 else "")
                        ) from exc
                    log.warning(
                        "no reply on %s within %.1fs (attempt %d); sending again", topic, timeout, attempts
                    )
        finally:
            self._pending.pop(cid, None)
            fut.cancel()


async def serve(bus: Bus, topic: str, handler: RpcHandler, *, group: str) -> Subscription:
    """Answer requests on ``topic``; the handler's bytes go back to the caller's reply topic."""

    async def on_request(msg: Message) -> None:
        reply_to = msg.headers.get(REPLY_TO)
        reply = await handler(msg.body)
        if reply_to:
            await bus.publish(reply_to, reply, headers={CORRELATION_ID: msg.headers.get(CORRELATION_ID, "")})

    return await bus.subscribe(topic, on_request, group=group)
