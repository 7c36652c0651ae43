"""Apache Pulsar backend on pulsar-client: the bus contract of :mod:`silobridge.bus.base`.

URL: ``pulsar://host:6650`` or ``pulsar://host:6650/<tenant>/<namespace>`` (default
``public/default``); one tenant/namespace per party keeps parties that share a broker apart.

Streams. A bus topic is stored on the Pulsar topic of its *stream*: its first word, or its first
``STREAM_DEPTHS[first word]`` words (federation topics ``fed.<job>.<task>.<attempt>.<name>.<tag>``
get one stream per session, RPC reply topics one per client, node commands one per node)::

    topic  fed.j1.psi_0.0.x.1  ->  persistent://<tenant>/<ns>/p.fed.j1.psi_0.0
    topic  cluster.rpc         ->  persistent://<tenant>/<ns>/p.cluster
    group  g, pattern P        ->  Shared subscription "g" on the one stream P selects; the
                                   consumer acknowledges at once what P does not match
    dead letters of g          ->  persistent://<tenant>/<ns>/p=dlq.g   ("=" never occurs in a
                                   topic, so no stream is ever a dead-letter topic)

Why not one Pulsar topic per bus topic with a regex consumer: a subscription exists only on
topics its consumer has discovered, so messages on a topic created after ``declare_group`` were
not kept for the group, and pulsar-client (3.x) ignores ``pattern_auto_discovery_period`` and
discovers new topics once a minute. A stream's subscription is created by ``declare_group``
itself, on the broker, as a RabbitMQ binding is; it keeps every later message of the stream, and
one stream orders all of a group's topics. A pattern must therefore spell out its stream (the
first word, or the first ``STREAM_DEPTHS`` words, literally); others are refused.

Delivery: acknowledge after the handler returned; ``settle`` decides: requeue is a negative ack
(redelivered after ``retry_delay_ms``, ``redelivery_count`` + 1), dead-letter is "publish to the
group's dead-letter topic, then ack". The client's :class:`pulsar.ConsumerDeadLetterPolicy`
(``POISON_DELIVERY_LIMIT``) is the safety valve for a message that kills its consumer every time.

The pulsar-client API is blocking/callback based: publishes use ``send_async`` whose callback
resolves an asyncio future via ``call_soon_threadsafe``; each subscription has one pump thread
that ``receive``s with a short timeout and hands messages to the event loop through a queue of
``prefetch`` places (so a slow handler stops the pump); other blocking calls go through
``asyncio.to_thread``. The client reconnects by itself after a broker restart; a publish waits
for it up to ``publish_timeout``. Creating a producer or a subscription during the restart (the
broker's lookups answer "not ready" or time out) is asked again with backoff for up to
``reconnect_window_s`` (120 s) before it raises ``BusUnavailable``.

What the broker must be configured for (namespace/broker policy, not client code; the dev broker
of ``make services`` sets all of it, see ``deploy/dev/pulsar/standalone.conf``):

* deduplication **off** (``brokerDeduplicationEnabled=false``, or per namespace
  ``pulsar-admin namespaces set-deduplication <tenant>/<ns> --disable``;
  :func:`~silobridge.bus.pulsar_admin.ensure_namespace` turns it off). With it on, a producer
  whose first message was cut off by a broker restart takes the broker's "last sequence id" again
  when it reconnects (-1 on a topic that never stored one), resends that message and numbers the
  next one the same; the broker stores the first and drops the second as a duplicate, answering
  ok with the id -1:-1. So this bus never relies on it: a client's resend after a reconnect may be
  stored twice, and consumers are idempotent on ``Message.message_id`` (the bus contract, as on
  RabbitMQ). A -1:-1 receipt (a broker with deduplication on anyway) fails the publish with
  ``BusUnavailable`` instead of counting as stored.
* size: ``maxMessageSize`` at least ``MAX_MESSAGE_BYTES`` (64 MiB) plus room for properties, and
  the bookies' ``nettyMaxFrameSizeBytes`` above it; the default 5 MiB refuses large federation
  values. Chunking stays off: the router chunks.
* the tenant/namespace exist (:func:`silobridge.bus.pulsar_admin.ensure_namespace`).

Known limits:

* ``delivery_count``: the broker keeps redelivery counts in memory per subscription and drops
  them when the group's last consumer leaves or the broker restarts; this process adds what it
  handed out itself (a cancelled subscription's messages count). A delivery lost to a *crashed*
  consumer is redelivered (and handled once, through the Deduplicator) but counted only if
  another consumer of the group stayed connected. So a message that kills its consumer every
  time is not stopped by ``POISON_DELIVERY_LIMIT`` unless the group has several consumers.
* group existence (``NotFound`` from ``dead_letters``) is known only for groups this process
  declared.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

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
    check_word,
    new_message_id,
    run_handler,
    topic_matches,
)
from silobridge.errors import BusUnavailable, Conflict, Disposition, InvalidInput, NotFound

log = logging.getLogger(__name__)

POISON_DELIVERY_LIMIT = 20
# How many leading words name a stream, by first word (default 1): see the module docstring.
STREAM_DEPTHS: Mapping[str, int] = {"fed": 4, "reply": 3, "node": 2}
MESSAGE_ID_PROPERTY = "sb-message-id"
TOPIC_PROPERTY = "sb-topic"
_RESERVED = frozenset({MESSAGE_ID_PROPERTY, TOPIC_PROPERTY})
# What the client raises while a broker restarts or is not ready yet: worth asking again.
_TRANSIENT: tuple[type[Exception], ...] = (
    pulsar.Timeout,
    pulsar.ConnectError,
    pulsar.NotConnected,
    pulsar.LookupError,
    pulsar.BrokerMetadataError,
    pulsar.ServiceUnitNotReady,
    pulsar.TooManyLookupRequestException,
    pulsar.BrokerPersistenceError,
)
# Properties the client adds when it dead-letters by itself (ConsumerDeadLetterPolicy).
_CLIENT_PROPERTIES = frozenset({"REAL_TOPIC", "ORIGIN_MESSAGE_ID"})
_RECEIVE_POLL_MS = 200
# Deliveries this process handed out and has not settled, by (group, message id): see _count.
_MAX_TRACKED_DELIVERIES = 100_000
_DLQ_SUBSCRIPTION = "silobridge-dead-letters"
_SETTLE_WAIT_S = 10.0  # how long a cancelled subscription waits for its acks under way


def _is_timeout(exc: BaseException) -> bool:
    return isinstance(exc, pulsar.Timeout)


_NO_ENTRY = (-1, 2**64 - 1)  # -1, read as a signed or an unsigned 64-bit id


def _stored(msg_id: Any) -> bool:
    """False for the -1:-1 id a deduplicating broker answers for a message it dropped."""
    try:
        ledger, entry = int(msg_id.ledger_id()), int(msg_id.entry_id())
    except Exception:  # an id without the accessors: the result code decides
        return True
    return not (ledger in _NO_ENTRY and entry in _NO_ENTRY)


def stream_of_topic(topic: str) -> str:
    words = check_topic(topic).split(".")
    return ".".join(words[: STREAM_DEPTHS.get(words[0], 1)])


def stream_of_pattern(pattern: str) -> str:
    """The one stream whose topics ``pattern`` can match; refused if it could match several."""
    words = check_pattern(pattern).split(".")
    depth = STREAM_DEPTHS.get(words[0], 1)
    head = words[:depth]
    if any(w in ("*", "#") for w in head):
        raise InvalidInput(
            f"topic pattern {pattern!r} spans several Pulsar streams: on the Pulsar bus its first "
            f"{depth} word(s) must be literal"
        )
    return ".".join(head)


def parse_pulsar_url(url: str) -> tuple[str, str, str]:
    """``pulsar://h:p[/<tenant>/<namespace>]`` -> (service URL, tenant, namespace)."""
    parts = urlsplit(url)
    if parts.scheme not in ("pulsar", "pulsar+ssl") or not parts.netloc:
        raise InvalidInput("a Pulsar bus URL looks like pulsar://host:6650[/<tenant>/<namespace>]")
    path = [p for p in parts.path.split("/") if p]
    if len(path) not in (0, 2) or parts.query or parts.fragment:
        raise InvalidInput(
            f"unexpected path or query in the Pulsar bus URL {parts.scheme}://{parts.hostname}...: "
            "give /<tenant>/<namespace> or nothing"
        )
    tenant, namespace = path if path else ("public", "default")
    check_word(tenant, "Pulsar tenant")
    check_word(namespace, "Pulsar namespace")
    return f"{parts.scheme}://{parts.netloc}", tenant, namespace


class _PulsarSubscription(Subscription):
    """A consumer of one stream on a Shared subscription; a pump thread feeds the event loop."""

    def __init__(
        self,
        bus: PulsarBus,
        pattern: str,
        group: str,
        durable: bool,
        handler: Handler,
        max_deliveries: int,
        consumer: Any,
        prefetch: int,
    ) -> None:
        self.pattern, self.group, self._durable = pattern, group, durable
        self._bus, self._handler, self._max = bus, handler, max_deliveries
        self._consumer = consumer
        self._loop = asyncio.get_running_loop()
        self._buffer: asyncio.Queue[Any] = asyncio.Queue(maxsize=max(1, prefetch))
        self._stop = threading.Event()
        self._pump = threading.Thread(target=self._receive_loop, name=f"pulsar-pump-{group}", daemon=True)
        self._worker: asyncio.Task[None] | None = None
        # Acks and requeues under way: cancel waits for them before it hands anything back, or
        # a message handled just before the cancel would be redelivered.
        self._settling: set[asyncio.Task[None]] = set()
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
            await self._bus._process(
                self._consumer, msg, self.pattern, self._handler, self._max, self.group, self._settling
            )

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
        if self._settling:
            await asyncio.wait(set(self._settling), timeout=_SETTLE_WAIT_S)
        await asyncio.to_thread(self._pump.join, 5.0)
        # Hand unacknowledged messages back through a redelivery request rather than by closing
        # alone: the broker counts a redelivery then, and replays without counting on a close.
        # A non-durable group ends with its consumer.
        with contextlib.suppress(Exception):
            if self._durable:
                await asyncio.to_thread(self._consumer.redeliver_unacknowledged_messages)
                await asyncio.to_thread(self._consumer.close)
            else:
                await asyncio.to_thread(self._consumer.unsubscribe)
                self._bus._forget_group(self.group)


class PulsarBus(Bus):
    """``pulsar://host:6650[/<tenant>/<namespace>]`` (or ``pulsar+ssl://``); ``prefix`` namespaces
    the topics inside the namespace."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "silobridge",
        publish_timeout: float = 30.0,
        retry_delay_ms: int = 200,
        max_producers: int = 256,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        reconnect_window_s: float = 120.0,
    ) -> None:
        check_group(prefix)
        self.url = url
        self._service_url, self.tenant, self.namespace = parse_pulsar_url(url)
        self.prefix = prefix
        self._base = f"persistent://{self.tenant}/{self.namespace}/"
        self._publish_timeout = publish_timeout
        self._retry_delay_ms = retry_delay_ms
        self._max_producers = max_producers
        self._max_message_bytes = max_message_bytes
        self._reconnect_window_s = reconnect_window_s
        self._client: Any = None
        self._producers: OrderedDict[str, Any] = OrderedDict()
        self._producer_lock = asyncio.Lock()
        self._subs: set[_PulsarSubscription] = set()
        self._groups: dict[str, tuple[str, bool]] = {}
        self._deliveries: OrderedDict[tuple[str, str], int] = OrderedDict()

    # ----- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        if self._client is None:
            # Construction does not connect: the first producer/consumer does. The client's own
            # log lines (warnings and errors: reconnects, failed lookups) go to the process's
            # stdout from the C++ side, never through a Python logger: with a Python
            # ``logging.Logger`` the client's shutdown thread calls back into Python while
            # ``close``/the destructor tears it down, and about one process exit in ten then
            # aborts ("terminate called without an active exception", SIGABRT). Measured with
            # pulsar-client 3.13: 5 aborts in 40 open-publish-close-exit runs with a Python
            # logger, 0 in 100 with the C++ console logger (docs/deploy.md).
            self._client = pulsar.Client(
                self._service_url,
                operation_timeout_seconds=int(self._publish_timeout),
                logger=pulsar.ConsoleLogger(pulsar.LoggerLevel.Warn),
            )

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

    async def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """``fn`` in a thread, asked again with backoff while the broker restarts (transient
        lookup, connection and timeout errors), for at most ``reconnect_window_s``."""
        loop = asyncio.get_running_loop()
        deadline, delay = loop.time() + self._reconnect_window_s, 0.2
        while True:
            try:
                return await asyncio.to_thread(fn, *args, **kwargs)
            except _TRANSIENT as exc:
                if loop.time() + delay > deadline:
                    raise
                log.info("pulsar: %s failed (%r), asking again in %.1f s", fn.__name__, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    # ----- naming ----------------------------------------------------------------------------
    def _stream_topic(self, stream: str) -> str:
        return f"{self._base}{self.prefix}.{stream}"

    def _dlq_topic(self, group: str) -> str:
        return f"{self._base}{self.prefix}=dlq.{group}"

    # ----- producing -------------------------------------------------------------------------
    async def _producer(self, topic: str) -> Any:
        async with self._producer_lock:
            producer = self._producers.get(topic)
            if producer is not None:
                self._producers.move_to_end(topic)
                return producer
            client = await self._get_client()
            try:
                producer = await self._call(
                    client.create_producer,
                    topic,
                    send_timeout_millis=int(self._publish_timeout * 1000),
                    block_if_queue_full=True,
                    batching_enabled=False,  # one message, one entry: receipts and size checks per message
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

        def resolve(result: Any, msg_id: Any) -> None:  # pulsar's thread; must never raise
            def settle_future() -> None:
                if done.done():
                    return
                if result == pulsar.Result.Ok and _stored(msg_id):
                    done.set_result(None)
                elif result == pulsar.Result.Ok:
                    done.set_exception(
                        BusUnavailable(
                            f"Pulsar answered ok on {pulsar_topic} without storing the message "
                            "(id -1:-1: dropped as a duplicate); turn broker deduplication off "
                            "for this namespace (silobridge.bus.pulsar)"
                        )
                    )
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
        stream = stream_of_topic(topic)
        check_size(body, self._max_message_bytes)
        mid = check_message_id(message_id) if message_id else new_message_id()
        properties = {str(k): str(v) for k, v in (headers or {}).items()}
        reserved = _RESERVED & properties.keys()
        if reserved:
            raise InvalidInput(f"headers {sorted(reserved)} are reserved by the Pulsar bus")
        properties[MESSAGE_ID_PROPERTY] = mid
        properties[TOPIC_PROPERTY] = topic
        await self._send(self._stream_topic(stream), bytes(body), properties)
        return mid

    # ----- groups ----------------------------------------------------------------------------
    def _consumer_options(self, group: str, max_deliveries: int, prefetch: int) -> dict[str, Any]:
        return {
            "consumer_type": pulsar.ConsumerType.Shared,
            "receiver_queue_size": max(1, prefetch),
            "negative_ack_redelivery_delay_ms": self._retry_delay_ms,
            # A new subscription starts at the end: a group keeps what comes after its
            # declaration, as a RabbitMQ queue does from its binding on.
            "initial_position": pulsar.InitialPosition.Latest,
            "dead_letter_policy": pulsar.ConsumerDeadLetterPolicy(
                max_redeliver_count=max(POISON_DELIVERY_LIMIT, max_deliveries),
                dead_letter_topic=self._dlq_topic(group),
                initial_subscription_name=_DLQ_SUBSCRIPTION,
            ),
        }

    async def _subscribe_raw(self, pattern: str, group: str, max_deliveries: int, prefetch: int) -> Any:
        client = await self._get_client()
        try:
            return await self._call(
                client.subscribe,
                self._stream_topic(stream_of_pattern(pattern)),
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
            consumer = await self._call(
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
        stream_of_pattern(pattern)  # refuse a pattern over several streams before anything
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
        try:
            await self._declare_dead_letter_topic(group)
            # Creating the subscription makes the broker keep the stream's messages for it from now on.
            consumer = await self._subscribe_raw(pattern, group, DEFAULT_MAX_DELIVERIES, 1)
        except BaseException:
            # Not declared on the broker (it was restarting): the next call must try again, not
            # find the group "known" and return, or what is published meanwhile is kept for nobody.
            self._forget_group(group)
            raise
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
        first = self._remember_group(pattern, group, durable)
        try:
            if first and durable:
                await self._declare_dead_letter_topic(group)
            consumer = await self._subscribe_raw(pattern, group, max_deliveries, prefetch)
        except BaseException:
            if first:
                self._forget_group(group)  # as in declare_group: the next call declares it again
            raise
        sub = _PulsarSubscription(self, pattern, group, durable, handler, max_deliveries, consumer, prefetch)
        sub.start()
        self._subs.add(sub)
        return sub

    async def delete_group(self, group: str) -> None:
        check_group(group)
        for sub in [s for s in self._subs if s.group == group]:
            await sub.cancel()
        known = self._groups.pop(group, None)
        if known is None:
            return  # never declared here: nothing this process can name
        client = await self._get_client()
        # Unsubscribing removes the subscription and its backlog; the broker deletes a topic
        # left without subscriptions (brokerDeleteInactiveTopicsEnabled).
        targets = [(self._stream_topic(stream_of_pattern(known[0])), group)]
        if known[1]:
            targets.append((self._dlq_topic(group), _DLQ_SUBSCRIPTION))
        for topic, name in targets:
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
        topic = props.get(TOPIC_PROPERTY) or ""
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
        self,
        consumer: Any,
        raw: Any,
        pattern: str,
        handler: Handler,
        max_deliveries: int,
        group: str,
        settling: set[asyncio.Task[None]],
    ) -> None:
        msg = self._to_message(raw)
        if not msg.topic or not topic_matches(pattern, msg.topic):
            # Another topic of the same stream (or a message not sent through this bus).
            disposition = Disposition.ACK
        else:
            msg = self._count(group, msg)
            disposition = await run_handler(handler, msg, max_deliveries)
        # A task of its own, shielded and tracked: a cancelled subscription still settles what its
        # handler finished, and waits for that before it hands unacknowledged messages back.
        settle = asyncio.ensure_future(self._settle(consumer, raw, msg, disposition, group))
        settling.add(settle)
        settle.add_done_callback(settling.discard)
        await asyncio.shield(settle)

    def _count(self, group: str, msg: Message) -> Message:
        """The delivery count: the broker's, or this process's own where that is higher.

        The broker counts redeliveries in memory per subscription and forgets them when the
        group's last consumer leaves, so a message handed back by a cancelled subscription
        would come again as a first delivery. This process remembers what it handed out until
        it is settled. (A crashed process remembers nothing: see the module docstring.)
        """
        key = (group, msg.message_id)
        count = max(msg.delivery_count, self._deliveries.pop(key, 0) + 1)
        self._deliveries[key] = count
        while len(self._deliveries) > _MAX_TRACKED_DELIVERIES:
            self._deliveries.popitem(last=False)
        return dataclasses.replace(msg, delivery_count=count, redelivered=count > 1)

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
                self._deliveries.pop((group, msg.message_id), None)
        except Exception as exc:
            log.warning(
                "could not %s message %s of group %s (%r); it will be delivered again",
                disposition.value,
                msg.message_id,
                group,
                exc,
                extra={"topic": msg.topic},
            )
