"""Apache Pulsar backend on pulsar-client: the bus contract of :mod:`silobridge.bus.base`.

Mapping, for ``prefix="p"`` in ``<tenant>/<namespace>`` (default ``public/default``)::

    topic  fed.a.b        ->  persistent://public/default/p.fed.a.b   (one Pulsar topic per topic)
    group  g, pattern P   ->  Shared subscription "g" through a regex consumer over the topics
                              matching P (:func:`~silobridge.bus.base.pattern_to_regex`)
    dead letters of g     ->  persistent://public/default/p=dlq.g     ("=" never occurs in a
                              topic, so no group pattern ever matches a dead-letter topic)

Delivery: acknowledge after the handler returned; ``settle`` decides: requeue is a negative ack
(redelivered after ``retry_delay_ms``, ``redelivery_count`` + 1), dead-letter is "publish to the
group's dead-letter topic, then ack". The client's :class:`pulsar.ConsumerDeadLetterPolicy`
(``POISON_DELIVERY_LIMIT``) is the safety valve for a message that kills its consumer every time.

The pulsar-client API is blocking/callback based: publishes use ``send_async`` whose callback
resolves an asyncio future via ``call_soon_threadsafe``; each subscription has one pump thread
that ``receive``s with a short timeout and hands messages to the event loop through a queue of
``prefetch`` places (so a slow handler stops the pump); other blocking calls go through
``asyncio.to_thread``.

What the broker must be configured for (it is namespace/broker policy, not client code):

* deduplication: ``pulsar-admin namespaces set-deduplication public/default --enable`` so that
  the client's automatic resends after a reconnect (same producer, same sequence id) are stored
  once. Producer names are left to the broker (unique per producer), so duplicates across a
  process restart are caught by the consumers' :class:`~silobridge.bus.dedup.Deduplicator`.
* retention: regex consumers discover new topics every ``discovery_period_s`` seconds and start
  reading them from the earliest retained message, so keep messages for a while without a
  subscription: ``pulsar-admin namespaces set-retention public/default --time 1h --size 10G``.
  Consequence: a brand-new group also reads what is still retained on existing topics (handlers
  are idempotent on message id, as everywhere).
* size: ``maxMessageSize`` in broker.conf at least ``MAX_MESSAGE_BYTES`` (64 MiB) plus a little;
  the default 5 MiB refuses large federation values. Chunking stays off: the router chunks.

Known limits: ordering holds per topic, not across the topics of one pattern; group existence
(``NotFound`` from ``dead_letters``) is known only for groups this process declared.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import pulsar

from silobridge.bus.base import (
    DEFAULT_MAX_DELIVERIES,
    MAX_MESSAGE_BYTES,
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
    pattern_to_regex,
    run_handler,
)
from silobridge.errors import BusUnavailable, Conflict, Disposition, InvalidInput, NotFound

log = logging.getLogger(__name__)

POISON_DELIVERY_LIMIT = 20
MESSAGE_ID_PROPERTY = "sb-message-id"
TOPIC_PROPERTY = "sb-topic"
_RESERVED = frozenset({MESSAGE_ID_PROPERTY, TOPIC_PROPERTY})
# Properties the client adds when it dead-letters by itself (ConsumerDeadLetterPolicy).
_CLIENT_PROPERTIES = frozenset({"REAL_TOPIC", "ORIGIN_MESSAGE_ID"})
_RECEIVE_POLL_MS = 200
_DLQ_SUBSCRIPTION = "silobridge-dead-letters"


def _is_timeout(exc: BaseException) -> bool:
    return isinstance(exc, pulsar.Timeout)


class _PulsarSubscription(Subscription):
    """A regex consumer on a Shared subscription; a pump thread feeds the event loop."""

    def __init__(
        self,
        bus: PulsarBus,
        group: str,
        durable: bool,
        handler: Handler,
        max_deliveries: int,
        consumer: Any,
        prefetch: int,
    ) -> None:
        self.group, self._durable = group, durable
        self._bus, self._handler, self._max = bus, handler, max_deliveries
        self._consumer = consumer
        self._loop = asyncio.get_running_loop()
        self._buffer: asyncio.Queue[Any] = asyncio.Queue(maxsize=max(1, prefetch))
        self._stop = threading.Event()
        self._pump = threading.Thread(target=self._receive_loop, name=f"pulsar-pump-{group}", daemon=True)
        self._worker: asyncio.Task[None] | None = None
        self._cancelled = False

    def start(self) -> None:
        self._worker = self._loop.create_task(self._run(), name=f"bus-consumer-{self.group}")
        self._pump.start()

    def _receive_loop(self) -> None:  # runs in the pump thread
        while not self._stop.is_set():
            try:
                msg = self._consumer.receive(timeout_millis=_RECEIVE_POLL_MS)
            except Exception as exc:
                if _is_timeout(exc):
                    continue
                if self._stop.is_set():
                    return
                log.warning("receive failed on group %s: %r; retrying", self.group, exc)
                self._stop.wait(1.0)
                continue
            fut = asyncio.run_coroutine_threadsafe(self._buffer.put(msg), self._loop)
            while not self._stop.is_set():
                try:
                    fut.result(timeout=_RECEIVE_POLL_MS / 1000)
                    break
                except TimeoutError:
                    continue
            else:
                fut.cancel()  # not handed over: the broker redelivers it once we close

    async def _run(self) -> None:
        while True:
            msg = await self._buffer.get()
            await self._bus._process(self._consumer, msg, self._handler, self._max, self.group)

    async def cancel(self) -> None:
        if self._cancelled:
            return
        self._cancelled = True
        self._bus._subs.discard(self)
        self._stop.set()
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        await asyncio.to_thread(self._pump.join, 5.0)
        # Closing hands unacknowledged messages back to the subscription; a non-durable
        # group ends with its consumer.
        with contextlib.suppress(Exception):
            if self._durable:
                await asyncio.to_thread(self._consumer.close)
            else:
                await asyncio.to_thread(self._consumer.unsubscribe)
                self._bus._forget_group(self.group)


class PulsarBus(Bus):
    """``pulsar://host:6650`` (or ``pulsar+ssl://``); ``prefix`` namespaces the topics."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "silobridge",
        tenant: str = "public",
        namespace: str = "default",
        publish_timeout: float = 30.0,
        retry_delay_ms: int = 200,
        discovery_period_s: int = 1,
        max_producers: int = 256,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
    ) -> None:
        check_group(prefix)
        self.url = url
        self.prefix = prefix
        self._base = f"persistent://{tenant}/{namespace}/"
        self._publish_timeout = publish_timeout
        self._retry_delay_ms = retry_delay_ms
        self._discovery_period_s = discovery_period_s
        self._max_producers = max_producers
        self._max_message_bytes = max_message_bytes
        self._client: Any = None
        self._producers: OrderedDict[str, Any] = OrderedDict()
        self._producer_lock = asyncio.Lock()
        self._subs: set[_PulsarSubscription] = set()
        self._groups: dict[str, tuple[str, bool]] = {}

    # ----- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        if self._client is None:
            # Construction does not connect: the first producer/consumer does.
            self._client = pulsar.Client(self.url, operation_timeout_seconds=int(self._publish_timeout))

    async def close(self) -> None:
        for sub in list(self._subs):
            await sub.cancel()
        producers, self._producers = list(self._producers.values()), OrderedDict()
        client, self._client = self._client, None
        for producer in producers:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(producer.close)
        if client is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(client.close)

    async def _get_client(self) -> Any:
        if self._client is None:
            await self.start()
        return self._client

    # ----- naming ----------------------------------------------------------------------------
    def _topic(self, topic: str) -> str:
        return f"{self._base}{self.prefix}.{topic}"

    def _dlq_topic(self, group: str) -> str:
        return f"{self._base}{self.prefix}=dlq.{group}"

    def _regex(self, pattern: str) -> re.Pattern[str]:
        return re.compile(re.escape(f"{self._base}{self.prefix}.") + pattern_to_regex(pattern) + "$")

    def _own_topic(self, pulsar_topic: str) -> str:
        # Regex consumers may report partitioned names; strip our namespace and prefix.
        name = pulsar_topic.rsplit("/", 1)[-1]
        return name[len(self.prefix) + 1 :] if name.startswith(self.prefix + ".") else name

    # ----- producing -------------------------------------------------------------------------
    async def _producer(self, topic: str) -> Any:
        async with self._producer_lock:
            producer = self._producers.get(topic)
            if producer is not None:
                self._producers.move_to_end(topic)
                return producer
            client = await self._get_client()
            try:
                producer = await asyncio.to_thread(
                    client.create_producer,
                    topic,
                    send_timeout_millis=int(self._publish_timeout * 1000),
                    block_if_queue_full=True,
                    batching_enabled=False,  # one message, one entry: dedup and size checks per message
                    chunking_enabled=False,  # the router chunks; the broker's maxMessageSize applies
                )
            except Exception as exc:
                raise BusUnavailable(f"cannot create a Pulsar producer for {topic}: {exc!r}") from exc
            self._producers[topic] = producer
            while len(self._producers) > self._max_producers:
                _, old = self._producers.popitem(last=False)
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(old.flush)
                    await asyncio.to_thread(old.close)
            return producer

    async def _send(self, pulsar_topic: str, body: bytes, properties: dict[str, str]) -> None:
        producer = await self._producer(pulsar_topic)
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def resolve(result: Any, _msg_id: Any) -> None:  # pulsar's thread; must never raise
            def settle_future() -> None:
                if done.done():
                    return
                if result == pulsar.Result.Ok:
                    done.set_result(None)
                else:
                    done.set_exception(
                        BusUnavailable(f"Pulsar refused the message on {pulsar_topic}: {result}")
                    )

            with contextlib.suppress(RuntimeError):  # loop already closed
                loop.call_soon_threadsafe(settle_future)

        try:
            producer.send_async(body, resolve, properties=properties)
        except Exception as exc:
            raise BusUnavailable(f"cannot publish on {pulsar_topic}: {exc!r}") from exc
        await done

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
        properties = {str(k): str(v) for k, v in (headers or {}).items()}
        reserved = _RESERVED & properties.keys()
        if reserved:
            raise InvalidInput(f"headers {sorted(reserved)} are reserved by the Pulsar bus")
        properties[MESSAGE_ID_PROPERTY] = mid
        properties[TOPIC_PROPERTY] = topic
        await self._send(self._topic(topic), bytes(body), properties)
        return mid

    # ----- groups ----------------------------------------------------------------------------
    def _consumer_options(self, group: str, max_deliveries: int, prefetch: int) -> dict[str, Any]:
        return {
            "consumer_type": pulsar.ConsumerType.Shared,
            "receiver_queue_size": max(1, prefetch),
            "negative_ack_redelivery_delay_ms": self._retry_delay_ms,
            "pattern_auto_discovery_period": self._discovery_period_s,
            "initial_position": pulsar.InitialPosition.Earliest,
            "dead_letter_policy": pulsar.ConsumerDeadLetterPolicy(
                max_redeliver_count=max(POISON_DELIVERY_LIMIT, max_deliveries),
                dead_letter_topic=self._dlq_topic(group),
                initial_subscription_name=_DLQ_SUBSCRIPTION,
            ),
        }

    async def _subscribe_raw(self, pattern: str, group: str, max_deliveries: int, prefetch: int) -> Any:
        client = await self._get_client()
        try:
            return await asyncio.to_thread(
                client.subscribe,
                self._regex(pattern),
                group,
                **self._consumer_options(group, max_deliveries, prefetch),
            )
        except Exception as exc:
            raise BusUnavailable(
                f"cannot subscribe group {group!r} to {pattern!r} on Pulsar: {exc!r}"
            ) from exc

    async def _declare_dead_letter_topic(self, group: str) -> None:
        """Subscribe the DLQ reader once, so the broker keeps dead letters until read."""
        client = await self._get_client()
        try:
            consumer = await asyncio.to_thread(
                client.subscribe,
                self._dlq_topic(group),
                _DLQ_SUBSCRIPTION,
                consumer_type=pulsar.ConsumerType.Shared,
                initial_position=pulsar.InitialPosition.Earliest,
            )
        except Exception as exc:
            raise BusUnavailable(f"cannot create the dead-letter topic of {group!r}: {exc!r}") from exc
        with contextlib.suppress(Exception):
            await asyncio.to_thread(consumer.close)

    def _remember_group(self, pattern: str, group: str, durable: bool) -> bool:
        known = self._groups.get(group)
        if known is not None and known[0] != pattern:
            raise Conflict(f"group {group!r} is already bound to {known[0]!r}, not {pattern!r}")
        self._groups[group] = (pattern, durable)
        return known is None

    def _forget_group(self, group: str) -> None:
        self._groups.pop(group, None)

    async def declare_group(self, pattern: str, group: str, *, durable: bool = True) -> None:
        check_pattern(pattern)
        check_group(group)
        if not self._remember_group(pattern, group, durable) or not durable:
            return
        await self._declare_dead_letter_topic(group)
        # Creating the subscription makes the broker keep messages for it from now on.
        consumer = await self._subscribe_raw(pattern, group, DEFAULT_MAX_DELIVERIES, 1)
        with contextlib.suppress(Exception):
            await asyncio.to_thread(consumer.close)

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
        check_pattern(pattern)
        check_group(group)
        if self._remember_group(pattern, group, durable) and durable:
            await self._declare_dead_letter_topic(group)
        consumer = await self._subscribe_raw(pattern, group, max_deliveries, prefetch)
        sub = _PulsarSubscription(self, group, durable, handler, max_deliveries, consumer, prefetch)
        sub.start()
        self._subs.add(sub)
        return sub

    async def delete_group(self, group: str) -> None:
        check_group(group)
        for sub in [s for s in self._subs if s.group == group]:
            await sub.cancel()
        known = self._groups.pop(group, None)
        client = await self._get_client()
        pattern = known[0] if known else "#"
        # Unsubscribing removes the subscription (and its backlog) from every matching topic.
        for topic, name in ((self._regex(pattern), group), (self._dlq_topic(group), _DLQ_SUBSCRIPTION)):
            try:
                consumer = await asyncio.to_thread(
                    client.subscribe, topic, name, consumer_type=pulsar.ConsumerType.Shared
                )
                await asyncio.to_thread(consumer.unsubscribe)
            except Exception as exc:
                log.warning("could not delete subscription %s on %s: %r", name, topic, exc)

    async def dead_letters(self, group: str, *, limit: int = 100) -> list[Message]:
        check_group(group)
        known = self._groups.get(group)
        if known is None:
            raise NotFound(f"no group {group!r} declared by this process")
        if not known[1]:
            return []
        client = await self._get_client()
        consumer = await asyncio.to_thread(
            client.subscribe,
            self._dlq_topic(group),
            _DLQ_SUBSCRIPTION,
            consumer_type=pulsar.ConsumerType.Shared,
            initial_position=pulsar.InitialPosition.Earliest,
        )
        out: list[Message] = []
        try:
            while len(out) < limit:
                try:
                    msg = await asyncio.to_thread(consumer.receive, _RECEIVE_POLL_MS)
                except Exception as exc:
                    if _is_timeout(exc):
                        break
                    raise BusUnavailable(f"cannot read dead letters of {group!r}: {exc!r}") from exc
                out.append(self._to_message(msg))
                await asyncio.to_thread(consumer.acknowledge, msg)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(consumer.close)
        return out

    # ----- consuming -------------------------------------------------------------------------
    def _to_message(self, msg: Any) -> Message:
        props = dict(msg.properties() or {})
        mid = props.get(MESSAGE_ID_PROPERTY) or new_message_id()
        topic = props.get(TOPIC_PROPERTY) or self._own_topic(props.get("REAL_TOPIC") or msg.topic_name())
        redeliveries = int(msg.redelivery_count())
        headers = {k: v for k, v in props.items() if k not in _RESERVED and k not in _CLIENT_PROPERTIES}
        return Message(
            topic=topic,
            body=msg.data() or b"",
            message_id=mid,
            headers=headers,
            redelivered=redeliveries > 0,
            delivery_count=redeliveries + 1,
        )

    async def _process(
        self, consumer: Any, raw: Any, handler: Handler, max_deliveries: int, group: str
    ) -> None:
        msg = self._to_message(raw)
        disposition = await run_handler(handler, msg, max_deliveries)
        await asyncio.shield(self._settle(consumer, raw, msg, disposition, group))

    async def _settle(
        self, consumer: Any, raw: Any, msg: Message, disposition: Disposition, group: str
    ) -> None:
        try:
            if disposition is Disposition.DEAD_LETTER:
                properties = {**msg.headers, MESSAGE_ID_PROPERTY: msg.message_id, TOPIC_PROPERTY: msg.topic}
                await self._send(self._dlq_topic(group), msg.body, properties)
            if disposition is Disposition.REQUEUE:
                consumer.negative_acknowledge(raw)  # not blocking: redelivered after retry_delay_ms
            else:
                await asyncio.to_thread(consumer.acknowledge, raw)
        except Exception as exc:
            log.warning(
                "could not %s message %s of group %s (%r); it will be delivered again",
                disposition.value,
                msg.message_id,
                group,
                exc,
                extra={"topic": msg.topic},
            )
