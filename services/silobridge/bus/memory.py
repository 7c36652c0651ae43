"""In-process bus with the same semantics as the brokers: bytes only, groups, ack, dead letters.

One ``MemoryBus`` object is one broker; several services of a single-process party share it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from silobridge.bus.base import (
    DEFAULT_MAX_DELIVERIES,
    Bus,
    Handler,
    Message,
    Subscription,
    check_group,
    check_max_deliveries,
    check_message_id,
    check_pattern,
    check_size,
    check_topic,
    new_message_id,
    run_handler,
    topic_matches,
)
from silobridge.errors import Conflict, Disposition, NotFound


@dataclass
class _Group:
    pattern: str
    durable: bool
    queue: deque[Message] = field(default_factory=deque)
    dead: deque[Message] = field(default_factory=deque)
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    consumers: int = 0


class _MemorySubscription(Subscription):
    def __init__(self, bus: MemoryBus, group: str, task: asyncio.Task[None]) -> None:
        self._bus, self._group, self._task = bus, group, task
        self._cancelled = False

    async def cancel(self) -> None:
        if self._cancelled:
            return
        self._cancelled = True
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._bus._consumer_gone(self._group, self)


class MemoryBus(Bus):
    def __init__(self, url: str = "memory://") -> None:
        self.url = url
        self._groups: dict[str, _Group] = {}
        self._subs: list[_MemorySubscription] = []
        self._closed = False

    async def start(self) -> None:
        self._closed = False

    async def close(self) -> None:
        self._closed = True
        subs, self._subs = self._subs, []
        for sub in subs:
            await sub.cancel()

    async def publish(
        self,
        topic: str,
        body: bytes,
        *,
        message_id: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> str:
        check_topic(topic)
        check_size(body)
        mid = check_message_id(message_id) if message_id else new_message_id()
        # Copy everything: nothing passes by reference, as with a real broker.
        msg = Message(topic=topic, body=bytes(body), message_id=mid, headers=dict(headers or {}))
        for group in self._groups.values():
            if topic_matches(group.pattern, topic):
                group.queue.append(msg)
                group.wakeup.set()
        await asyncio.sleep(0)
        return mid

    async def declare_group(self, pattern: str, group: str, *, durable: bool = True) -> None:
        check_pattern(pattern)
        check_group(group)
        existing = self._groups.get(group)
        if existing is None:
            self._groups[group] = _Group(pattern=pattern, durable=durable)
        elif existing.pattern != pattern:
            raise Conflict(f"group {group!r} is already bound to {existing.pattern!r}, not {pattern!r}")

    async def subscribe(
        self,
        pattern: str,
        handler: Handler,
        *,
        group: str,
        durable: bool = True,
        max_deliveries: int = DEFAULT_MAX_DELIVERIES,
        prefetch: int = 16,
    ) -> Subscription:
        check_max_deliveries(max_deliveries)
        await self.declare_group(pattern, group, durable=durable)
        g = self._groups[group]
        g.consumers += 1
        task = asyncio.get_running_loop().create_task(
            self._consume(g, handler, max_deliveries), name=f"bus-consumer-{group}"
        )
        sub = _MemorySubscription(self, group, task)
        self._subs.append(sub)
        return sub

    async def _consume(self, g: _Group, handler: Handler, max_deliveries: int) -> None:
        while True:
            if not g.queue:
                g.wakeup.clear()
                await g.wakeup.wait()
                continue
            msg = g.queue.popleft()
            try:
                disposition = await run_handler(handler, msg, max_deliveries)
            except asyncio.CancelledError:
                g.queue.appendleft(replace(msg, redelivered=True, delivery_count=msg.delivery_count + 1))
                g.wakeup.set()
                raise
            if disposition is Disposition.REQUEUE:
                g.queue.append(replace(msg, redelivered=True, delivery_count=msg.delivery_count + 1))
                g.wakeup.set()
            elif disposition is Disposition.DEAD_LETTER:
                g.dead.append(msg)
            await asyncio.sleep(0)

    def _consumer_gone(self, group: str, sub: _MemorySubscription) -> None:
        with contextlib.suppress(ValueError):
            self._subs.remove(sub)
        g = self._groups.get(group)
        if g is None:
            return
        g.consumers -= 1
        if g.consumers <= 0 and not g.durable:
            self._groups.pop(group, None)

    async def delete_group(self, group: str) -> None:
        g = self._groups.pop(group, None)
        if g is None:
            return
        g.queue.clear()
        for sub in [s for s in self._subs if s._group == group]:
            await sub.cancel()
        g.queue.clear()  # a cancelled handler hands its message back

    async def dead_letters(self, group: str, *, limit: int = 100) -> list[Message]:
        g = self._groups.get(group)
        if g is None:
            raise NotFound(f"no group {group!r}")
        out: list[Message] = []
        while g.dead and len(out) < limit:
            out.append(g.dead.popleft())
        return out
