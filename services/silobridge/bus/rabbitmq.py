"""RabbitMQ backend on aio-pika: the bus contract of :mod:`silobridge.bus.base` on a real broker.

What it creates on the broker, for ``prefix="p"``::

    exchange  p.topics       topic, durable    every publish (routing key = topic)
    exchange  p.dlx          direct, durable   dead letters (routing key = the group's queue name)
    queue     p.<group>      quorum            bound to p.topics with the group's pattern
    queue     p.<group>.dlq  quorum            bound to p.dlx; drained by ``dead_letters()``

Non-durable groups (RPC reply topics) are classic auto-delete queues without a dead-letter queue:
like on ``memory://`` they vanish with their last consumer, and what they reject is dropped.

Guarantees: ``publish`` returns only after the broker confirmed the (persistent) message; a
consumer acknowledges only after its handler returned; :func:`~silobridge.bus.base.settle` maps
the handler's outcome to ack / requeue / reject, and rejected messages reach the DLQ through the
quorum queue's at-least-once dead-lettering. ``delivery_count`` comes from the quorum queue's
``x-delivery-count``, which also counts deliveries lost to a crashed consumer; a message that kills
its consumer every time is dead-lettered by the broker after ``POISON_DELIVERY_LIMIT`` returns.

The connection is ``connect_robust``: after a dropped connection or a broker restart it reconnects
every ``reconnect_interval`` seconds, re-declares the subscriptions' queues and re-attaches their
consumers. A publish during the outage retries until ``publish_timeout``, then raises
:class:`~silobridge.errors.BusUnavailable`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aio_pika
import aiormq
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustChannel,
    AbstractRobustConnection,
)

from silobridge.bus.base import (
    DEFAULT_MAX_DELIVERIES,
    MAX_MESSAGE_BYTES,
    MAX_NAME_BYTES,
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
)
from silobridge.errors import BusUnavailable, Conflict, Disposition, InvalidInput, NotFound

log = logging.getLogger(__name__)

# Safety valve for a message whose handler never settles it because it kills the process:
# the broker dead-letters it after this many returns. ``max_deliveries`` above it is capped.
POISON_DELIVERY_LIMIT = 20
# A non-durable group nobody consumes from (declared but never subscribed) is removed after this.
NON_DURABLE_EXPIRES_MS = 10 * 60 * 1000

# Headers the broker adds; not part of what the publisher sent.
_BROKER_HEADERS = frozenset(
    {
        "x-delivery-count",
        "x-death",
        "x-first-death-exchange",
        "x-first-death-queue",
        "x-first-death-reason",
        "x-last-death-exchange",
        "x-last-death-queue",
        "x-last-death-reason",
    }
)
# Failures that mean "the connection is (temporarily) gone", not "the request was wrong".
_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    aiormq.exceptions.AMQPConnectionError,
    aiormq.exceptions.ChannelInvalidStateError,
    aiormq.exceptions.ChannelClosed,
    ConnectionError,
    OSError,
    TimeoutError,
)
_BROKER_ERRORS: tuple[type[BaseException], ...] = (*_CONNECTION_ERRORS, aiormq.exceptions.AMQPError)
_PUBLISH_RETRY_ERRORS: tuple[type[BaseException], ...] = (
    *_CONNECTION_ERRORS,
    aiormq.exceptions.DeliveryError,
)


def _redact(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@/]*@", r"//\1:***@", url)


class _RabbitSubscription(Subscription):
    """One consumer on its own channel (own prefetch); handles its messages one at a time."""

    def __init__(
        self,
        bus: RabbitMQBus,
        group: str,
        handler: Handler,
        max_deliveries: int,
        channel: AbstractChannel,
        queue: AbstractQueue,
    ) -> None:
        self.group = group
        self._bus, self._handler, self._max = bus, handler, max_deliveries
        self._channel, self._queue = channel, queue
        self._buffer: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._tag: str | None = None
        self._cancelled = False

    async def start(self) -> None:
        self._worker = asyncio.get_running_loop().create_task(self._run(), name=f"bus-consumer-{self.group}")
        self._tag = await self._queue.consume(self._on_delivery, no_ack=False)

    async def _on_delivery(self, incoming: AbstractIncomingMessage) -> None:
        # Only buffer here: aio-pika runs this per delivery, the worker keeps them in order.
        self._buffer.put_nowait(incoming)

    async def _run(self) -> None:
        while True:
            incoming = await self._buffer.get()
            await self._bus._process(incoming, self._handler, self._max, self.group)

    async def cancel(self) -> None:
        if self._cancelled:
            return
        self._cancelled = True
        self._bus._subs.discard(self)
        if self._tag is not None:
            with contextlib.suppress(*_BROKER_ERRORS):
                await self._queue.cancel(self._tag)
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        # Closing the channel hands every unacknowledged message back to the group.
        with contextlib.suppress(*_BROKER_ERRORS):
            await self._channel.close()


class RabbitMQBus(Bus):
    """``amqp://user:password@host:5672/vhost``; ``prefix`` namespaces exchanges and queues."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "silobridge",
        publish_timeout: float = 30.0,
        connect_timeout: float = 10.0,
        reconnect_interval: float = 1.0,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
    ) -> None:
        check_group(prefix)
        self.url = url
        self.prefix = prefix
        self._exchange_name = f"{prefix}.topics"
        self._dlx_name = f"{prefix}.dlx"
        self._publish_timeout = publish_timeout
        self._connect_timeout = connect_timeout
        self._reconnect_interval = reconnect_interval
        self._max_message_bytes = max_message_bytes
        self._conn: AbstractRobustConnection | None = None
        self._pub_channel: AbstractRobustChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._start_lock = asyncio.Lock()
        self._subs: set[_RabbitSubscription] = set()
        self._patterns: dict[str, str] = {}

    # ----- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        async with self._start_lock:
            if self._conn is not None:
                return
            try:
                conn = await asyncio.wait_for(
                    aio_pika.connect_robust(
                        self.url,
                        timeout=self._connect_timeout,
                        reconnect_interval=self._reconnect_interval,
                        client_properties={"connection_name": f"silobridge {self.prefix}"},
                    ),
                    self._connect_timeout,
                )
            except _BROKER_ERRORS as exc:
                raise BusUnavailable(f"cannot connect to RabbitMQ at {_redact(self.url)}: {exc!r}") from exc
            try:
                channel = await conn.channel(publisher_confirms=True, on_return_raises=False)
                self._exchange = await self._declare_exchanges(channel)
            except BaseException:
                await conn.close()
                raise
            self._conn, self._pub_channel = conn, channel

    async def close(self) -> None:
        for sub in list(self._subs):
            await sub.cancel()
        conn, self._conn = self._conn, None
        self._pub_channel = self._exchange = None
        if conn is not None:
            with contextlib.suppress(*_BROKER_ERRORS):
                await conn.close()

    async def _connection(self) -> AbstractRobustConnection:
        if self._conn is None:
            await self.start()
        assert self._conn is not None
        try:
            await asyncio.wait_for(self._conn.ready(), self._publish_timeout)
        except TimeoutError:
            raise BusUnavailable(
                f"RabbitMQ at {_redact(self.url)} unreachable for {self._publish_timeout:.0f}s"
            ) from None
        return self._conn

    @contextlib.asynccontextmanager
    async def _admin(self) -> AsyncIterator[AbstractChannel]:
        """A short-lived plain channel for declarations: a refused passive declare closes it, and
        it is not re-declared on reconnect (deleted groups stay deleted)."""
        conn = await self._connection()
        channel = aio_pika.Channel(conn, publisher_confirms=False)
        try:
            await channel.initialize()
            yield channel
        except (aiormq.exceptions.ChannelNotFoundEntity, aiormq.exceptions.ChannelPreconditionFailed):
            raise
        except _CONNECTION_ERRORS as exc:
            raise BusUnavailable(f"lost RabbitMQ connection ({exc!r})") from exc
        finally:
            if not channel.is_closed:
                with contextlib.suppress(*_BROKER_ERRORS):
                    await channel.close()

    # ----- naming and topology ---------------------------------------------------------------
    def _queue_name(self, group: str) -> str:
        check_group(group)
        name = f"{self.prefix}.{group}"
        if len(name.encode()) + len(".dlq") > MAX_NAME_BYTES:
            raise InvalidInput(
                f"group {group!r} is too long for a RabbitMQ queue name with prefix {self.prefix!r}"
            )
        return name

    async def _declare_exchanges(self, channel: AbstractChannel) -> AbstractExchange:
        exchange = await channel.declare_exchange(
            self._exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
        )
        await channel.declare_exchange(self._dlx_name, aio_pika.ExchangeType.DIRECT, durable=True)
        return exchange

    def _group_arguments(self, queue: str) -> dict[str, Any]:
        return {
            "x-queue-type": "quorum",
            "x-dead-letter-exchange": self._dlx_name,
            "x-dead-letter-routing-key": queue,
            # at-least-once: a dead letter is only removed once the DLQ confirmed it.
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
            "x-delivery-limit": POISON_DELIVERY_LIMIT,
        }

    async def _declare_group_on(
        self, channel: AbstractChannel, pattern: str, group: str, durable: bool
    ) -> AbstractQueue:
        name = self._queue_name(group)
        exchange = await self._declare_exchanges(channel)
        if durable:
            dlq = await channel.declare_queue(
                f"{name}.dlq", durable=True, arguments={"x-queue-type": "quorum"}
            )
            await dlq.bind(self._dlx_name, routing_key=name)
            queue = await channel.declare_queue(name, durable=True, arguments=self._group_arguments(name))
        else:
            queue = await channel.declare_queue(
                name, durable=False, auto_delete=True, arguments={"x-expires": NON_DURABLE_EXPIRES_MS}
            )
        await queue.bind(exchange, routing_key=pattern)
        return queue

    def _remember_pattern(self, pattern: str, group: str) -> None:
        known = self._patterns.get(group)
        if known is not None and known != pattern:
            raise Conflict(f"group {group!r} is already bound to {known!r}, not {pattern!r}")
        self._patterns[group] = pattern

    # ----- the Bus interface -----------------------------------------------------------------
    async def publish(
        self,
        topic: str,
        body: bytes,
        *,
        message_id: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> str:
        check_topic(topic)
        check_size(body, self._max_message_bytes)
        mid = check_message_id(message_id) if message_id else new_message_id()
        amqp_headers: dict[str, Any] = dict(headers or {})
        await self._connection()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._publish_timeout
        delay = 0.05
        while True:
            exchange, channel = self._exchange, self._pub_channel
            if exchange is None or channel is None:
                raise BusUnavailable("the bus is closed")
            try:
                await asyncio.wait_for(channel.ready(), max(deadline - loop.time(), 0.01))
                result = await exchange.publish(
                    aio_pika.Message(
                        bytes(body),
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                        content_type="application/octet-stream",
                        message_id=mid,
                        headers=amqp_headers,
                    ),
                    routing_key=topic,
                    mandatory=True,
                    timeout=max(deadline - loop.time(), 0.01),
                )
            except _PUBLISH_RETRY_ERRORS as exc:
                if loop.time() + delay >= deadline:
                    raise BusUnavailable(
                        f"RabbitMQ did not confirm the message on {topic} within {self._publish_timeout:.0f}s: {exc!r}"
                    ) from exc
                log.info(
                    "publish on %s failed (%r); retrying in %.2fs", topic, exc, delay, extra={"topic": topic}
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
            if isinstance(result, aiormq.abc.DeliveredMessage):
                # Returned as unroutable: normal for fan-out topics nobody listens to right now.
                log.debug("no group listens to %s; message %s dropped", topic, mid, extra={"topic": topic})
            return mid

    async def declare_group(self, pattern: str, group: str, *, durable: bool = True) -> None:
        check_pattern(pattern)
        self._queue_name(group)
        self._remember_pattern(pattern, group)
        try:
            async with self._admin() as channel:
                await self._declare_group_on(channel, pattern, group, durable)
        except aiormq.exceptions.ChannelPreconditionFailed as exc:
            self._patterns.pop(group, None)
            raise Conflict(
                f"group {group!r} exists on the broker with other settings (durable={not durable}?): {exc}"
            ) from exc

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
        conn = await self._connection()
        channel = await conn.channel(publisher_confirms=False)
        try:
            await channel.set_qos(prefetch_count=max(1, prefetch))
            # Declared again on the consumer's (robust) channel so that a reconnect re-creates it.
            queue = await self._declare_group_on(channel, pattern, group, durable)
            sub = _RabbitSubscription(self, group, handler, max_deliveries, channel, queue)
            await sub.start()
        except BaseException:
            with contextlib.suppress(*_BROKER_ERRORS):
                await channel.close()
            raise
        self._subs.add(sub)
        return sub

    async def delete_group(self, group: str) -> None:
        name = self._queue_name(group)
        # Our own consumers first, or their robust channel would re-create the queue.
        for sub in [s for s in self._subs if s.group == group]:
            await sub.cancel()
        async with self._admin() as channel:
            await channel.queue_delete(name)
            await channel.queue_delete(f"{name}.dlq")
        self._patterns.pop(group, None)

    async def delete_namespace(self) -> None:
        """Delete the groups this bus declared and the prefix's exchanges (tests, decommissioning).

        Groups declared only by other processes are left alone: a broker has no listing over AMQP.
        """
        for group in list(self._patterns):
            await self.delete_group(group)
        async with self._admin() as channel:
            await channel.exchange_delete(self._exchange_name)
            await channel.exchange_delete(self._dlx_name)

    async def dead_letters(self, group: str, *, limit: int = 100) -> list[Message]:
        name = self._queue_name(group)
        out: list[Message] = []
        try:
            async with self._admin() as channel:
                dlq = await channel.declare_queue(f"{name}.dlq", passive=True)
                while len(out) < limit:
                    incoming = await dlq.get(no_ack=False, fail=False)
                    if incoming is None:
                        break
                    out.append(_to_message(incoming, dead=True))
                    await incoming.ack()
        except aiormq.exceptions.ChannelNotFoundEntity:
            if await self._queue_exists(name):
                return out  # a non-durable group: it keeps no dead letters
            raise NotFound(f"no group {group!r}") from None
        return out

    async def _queue_exists(self, name: str) -> bool:
        try:
            async with self._admin() as channel:
                await channel.declare_queue(name, passive=True)
        except aiormq.exceptions.ChannelNotFoundEntity:
            return False
        return True

    # ----- consuming -------------------------------------------------------------------------
    async def _process(
        self, incoming: AbstractIncomingMessage, handler: Handler, max_deliveries: int, group: str
    ) -> None:
        try:
            incoming.channel  # noqa: B018 -- raises once the delivering channel is gone
        except aiormq.exceptions.ChannelInvalidStateError:
            log.debug("skipping a delivery from a closed channel; the broker delivers it again")
            return
        msg = _to_message(incoming)
        disposition = await run_handler(handler, msg, max_deliveries)
        try:
            # Shielded: a cancel() arriving now must not lose the settlement of finished work.
            await asyncio.shield(_settle(incoming, disposition))
        except _BROKER_ERRORS as exc:
            log.warning(
                "could not %s message %s of group %s (%r); the broker will deliver it again",
                disposition.value,
                msg.message_id,
                group,
                exc,
                extra={"topic": msg.topic},
            )


async def _settle(incoming: AbstractIncomingMessage, disposition: Disposition) -> None:
    if disposition is Disposition.ACK:
        await incoming.ack()
    elif disposition is Disposition.REQUEUE:
        await incoming.nack(requeue=True)
    else:
        await incoming.reject(requeue=False)


def _header_value(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _to_message(incoming: AbstractIncomingMessage, *, dead: bool = False) -> Message:
    raw = dict(incoming.headers or {})
    count = raw.get("x-delivery-count")
    delivery_count = int(count) + 1 if isinstance(count, int) else 1
    topic = incoming.routing_key or ""
    deaths = raw.get("x-death")
    if dead and isinstance(deaths, list) and deaths:
        keys = deaths[0].get("routing-keys") if isinstance(deaths[0], dict) else None
        if isinstance(keys, list) and keys:
            topic = _header_value(keys[0])
    headers = {k: _header_value(v) for k, v in raw.items() if k not in _BROKER_HEADERS}
    return Message(
        topic=topic,
        body=incoming.body,
        message_id=incoming.message_id or new_message_id(),
        headers=headers,
        redelivered=bool(incoming.redelivered) or delivery_count > 1,
        delivery_count=delivery_count,
    )
