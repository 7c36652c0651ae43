"""What the Pulsar bus decides without a broker: streams, URLs, message mapping, refusals.
Delivery itself runs against a real broker in tests/contract/test_bus_pulsar.py."""

from __future__ import annotations

import asyncio
import time

import pulsar
import pytest

from silobridge.bus.factory import create_bus
from silobridge.bus.pulsar import (
    MESSAGE_ID_PROPERTY,
    TOPIC_PROPERTY,
    PulsarBus,
    parse_pulsar_url,
    stream_of_pattern,
    stream_of_topic,
)
from silobridge.errors import BusUnavailable, InvalidInput, PayloadTooLarge


class RawMessage:
    """The four accessors of a received pulsar message that the bus reads."""

    def __init__(self, data: bytes, properties: dict[str, str], redeliveries: int) -> None:
        self._data, self._props, self._redeliveries = data, properties, redeliveries

    def data(self) -> bytes:
        return self._data

    def properties(self) -> dict[str, str]:
        return self._props

    def redelivery_count(self) -> int:
        return self._redeliveries


async def test_constructs_starts_and_closes_without_a_broker() -> None:
    bus = create_bus("pulsar://127.0.0.1:1", prefix="p9999")
    assert isinstance(bus, PulsarBus)
    await bus.start()
    await bus.close()


@pytest.mark.parametrize(
    ("topic", "stream"),
    [
        ("fed.j1.psi_0.0.x.3", "fed.j1.psi_0.0"),  # one stream per federation session
        ("fed.j1", "fed.j1"),
        ("reply.flow.abc123", "reply.flow.abc123"),  # one per RPC client
        ("node.n1.cmd", "node.n1"),
        ("cluster.rpc", "cluster"),
        ("flow", "flow"),
    ],
)
def test_topics_map_to_their_stream(topic: str, stream: str) -> None:
    assert stream_of_topic(topic) == stream


def test_a_pattern_selects_exactly_one_stream() -> None:
    assert stream_of_pattern("fed.j1.psi_0.0.#") == "fed.j1.psi_0.0"
    assert stream_of_pattern("cluster.*") == "cluster"
    assert stream_of_pattern("node.n1.cmd") == "node.n1"
    for spanning in ("#", "*.rpc", "fed.#", "fed.j1.*.0.#", "node.*.cmd"):
        with pytest.raises(InvalidInput, match="spans several Pulsar streams"):
            stream_of_pattern(spanning)


def test_streams_are_namespaced_per_tenant_namespace_and_prefix() -> None:
    bus = PulsarBus("pulsar://127.0.0.1:6650/bank-a/fl", prefix="p1")
    assert (bus.tenant, bus.namespace) == ("bank-a", "fl")
    assert bus._stream_topic("fed.j.t.1") == "persistent://bank-a/fl/p1.fed.j.t.1"
    assert bus._dlq_topic("g") == "persistent://bank-a/fl/p1=dlq.g"  # never a stream's name
    assert parse_pulsar_url("pulsar+ssl://h1:6651,h2:6651") == (
        "pulsar+ssl://h1:6651,h2:6651",
        "public",
        "default",
    )


@pytest.mark.parametrize(
    "url",
    [
        "pulsar://h:6650/only-tenant",
        "pulsar://h:6650/a/b/c",
        "pulsar://h:6650/a/b?x=1",
        "pulsar:///a/b",
        "pulsar://h/t/n s",
    ],
)
def test_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidInput):
        parse_pulsar_url(url)


def test_received_message_maps_back_to_the_bus_message() -> None:
    bus = PulsarBus("pulsar://localhost:6650", prefix="p1")
    raw = RawMessage(
        b"\x00body", {MESSAGE_ID_PROPERTY: "m-1", TOPIC_PROPERTY: "a.b", "reply-to": "reply.x"}, 2
    )
    msg = bus._to_message(raw)
    assert (msg.topic, msg.body, msg.message_id, dict(msg.headers)) == (
        "a.b",
        b"\x00body",
        "m-1",
        {"reply-to": "reply.x"},
    )
    assert (msg.redelivered, msg.delivery_count) == (True, 3)


async def test_bad_input_is_refused_before_touching_the_network() -> None:
    bus = PulsarBus("pulsar://127.0.0.1:1", prefix="p1", max_message_bytes=10)
    with pytest.raises(InvalidInput, match="topic"):
        await bus.publish("a..b", b"x")
    with pytest.raises(PayloadTooLarge, match="exceeds the bus limit of 10 bytes"):
        await bus.publish("a.b", b"x" * 11)
    with pytest.raises(InvalidInput, match="reserved"):
        await bus.publish("a.b", b"x", headers={MESSAGE_ID_PROPERTY: "forged"})
    with pytest.raises(InvalidInput, match="spans several Pulsar streams"):
        await bus.declare_group("#", "everything")
    await bus.close()


class _FlakyClient:
    """A pulsar client whose first ``fail`` subscribes raise (the broker is restarting)."""

    def __init__(self, fail: int) -> None:
        self.fail, self.subscribed = fail, []

    def subscribe(self, topic: str, name: str, **_: object) -> object:
        if self.fail:
            self.fail -= 1
            raise RuntimeError("Lookup failed: BrokerMetadataError")  # not transient: raised at once
        self.subscribed.append((topic, name))

        class _Consumer:
            def close(self) -> None:
                pass

        return _Consumer()


async def test_a_group_whose_declaration_failed_is_declared_again_by_the_next_call() -> None:
    """A declaration that failed during a broker restart must not leave the group "known": the
    router declares a session's group before publishing into it, and a group that exists only in
    this process keeps nothing on the broker (CI lost a job's first message that way)."""
    bus = PulsarBus("pulsar://127.0.0.1:1", prefix="t")
    client = _FlakyClient(fail=1)
    bus._client = client
    with pytest.raises(BusUnavailable):
        await bus.declare_group("fed.j1.lr_0.1.#", "g1")
    await bus.declare_group("fed.j1.lr_0.1.#", "g1")
    assert [name for _, name in client.subscribed if name == "g1"] == ["g1"]  # the subscription exists
    bus._client = None


class _OneMessageConsumer:
    """Hands out one message, then times out; records the calls that settle or hand back, in order.
    Its acknowledge is slow, as a loaded machine makes it."""

    def __init__(self, raw: RawMessage) -> None:
        self.raw: RawMessage | None = raw
        self.calls: list[str] = []

    def receive(self, timeout_millis: int) -> RawMessage:
        raw, self.raw = self.raw, None
        if raw is None:
            time.sleep(timeout_millis / 1000)
            raise pulsar.Timeout("no message")
        return raw

    def acknowledge(self, _raw: object) -> None:
        time.sleep(0.3)
        self.calls.append("acknowledge")

    def redeliver_unacknowledged_messages(self) -> None:
        self.calls.append("redeliver")

    def close(self) -> None:
        self.calls.append("close")


async def test_a_subscription_cancelled_as_its_handler_finishes_acks_before_handing_back() -> None:
    """The handler returned, so its message is settled: cancel waits for the ack before it asks the
    broker to redeliver what is unacknowledged (a clean-clone run saw the handled message come back
    to the group's next consumer)."""
    bus = PulsarBus("pulsar://127.0.0.1:1", prefix="t")
    props = {MESSAGE_ID_PROPERTY: "m1", TOPIC_PROPERTY: "crash.job1"}
    consumer = _OneMessageConsumer(RawMessage(b"x", props, 0))

    class _Client:
        def subscribe(self, topic: str, *_: object, **__: object) -> _OneMessageConsumer:
            # the dead-letter topic's reader is another consumer, opened and closed at once
            return _OneMessageConsumer(RawMessage(b"", {}, 0)) if "=dlq." in topic else consumer

    bus._client = _Client()
    handled = asyncio.Event()

    async def handle(_msg: object) -> None:
        handled.set()

    sub = await bus.subscribe("crash.#", handle, group="g", durable=True, prefetch=1)
    await asyncio.wait_for(handled.wait(), 5)
    await sub.cancel()
    assert consumer.calls == ["acknowledge", "redeliver", "close"]
    bus._client = None
