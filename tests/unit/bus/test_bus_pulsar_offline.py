"""What the Pulsar bus does without a broker: naming, regex selection, message mapping, refusals."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fake_pulsar import FakeBroker, FakeClient

from silobridge.bus.base import Message
from silobridge.bus.factory import create_bus
from silobridge.bus.pulsar import MESSAGE_ID_PROPERTY, TOPIC_PROPERTY, PulsarBus
from silobridge.errors import InvalidInput, PayloadTooLarge, PermanentError, RetryableError


class FakePulsarMessage:
    def __init__(self, topic: str, data: bytes, properties: dict[str, str], redeliveries: int) -> None:
        self._topic, self._data, self._props, self._redeliveries = topic, data, properties, redeliveries

    def topic_name(self) -> str:
        return self._topic

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


def test_topics_are_namespaced_and_patterns_select_only_our_topics() -> None:
    bus = PulsarBus("pulsar://localhost:6650", prefix="p1")
    assert bus._topic("fed.j.t.1.w.0") == "persistent://public/default/p1.fed.j.t.1.w.0"
    regex = bus._regex("fed.j.t.1.#")
    assert regex.fullmatch("persistent://public/default/p1.fed.j.t.1.w.0")
    assert not regex.fullmatch("persistent://public/default/p2.fed.j.t.1.w.0")  # another party
    assert not regex.fullmatch("persistent://public/default/p1Xfed.j.t.1.w.0")
    everything = bus._regex("#")
    assert everything.fullmatch(bus._topic("any.topic"))
    assert not everything.fullmatch(bus._dlq_topic("g"))  # dead letters never match a group
    assert re.fullmatch(r"persistent://public/default/p1=dlq\.g", bus._dlq_topic("g"))


def test_received_message_maps_back_to_the_bus_message() -> None:
    bus = PulsarBus("pulsar://localhost:6650", prefix="p1")
    raw = FakePulsarMessage(
        "persistent://public/default/p1.a.b",
        b"\x00body",
        {MESSAGE_ID_PROPERTY: "m-1", TOPIC_PROPERTY: "a.b", "reply-to": "reply.x"},
        redeliveries=2,
    )
    msg = bus._to_message(raw)
    assert (msg.topic, msg.body, msg.message_id, dict(msg.headers)) == (
        "a.b",
        b"\x00body",
        "m-1",
        {"reply-to": "reply.x"},
    )
    assert (msg.redelivered, msg.delivery_count) == (True, 3)


def test_client_dead_lettered_message_keeps_its_original_topic() -> None:
    bus = PulsarBus("pulsar://localhost:6650", prefix="p1")
    props: dict[str, Any] = {
        "REAL_TOPIC": "persistent://public/default/p1.x.y",
        "ORIGIN_MESSAGE_ID": "1:2:-1",
    }
    msg = bus._to_message(FakePulsarMessage("persistent://public/default/p1=dlq.g", b"", props, 0))
    assert msg.topic == "x.y" and dict(msg.headers) == {}


async def test_bad_input_is_refused_before_touching_the_network() -> None:
    bus = PulsarBus("pulsar://127.0.0.1:1", prefix="p1", max_message_bytes=10)
    with pytest.raises(InvalidInput, match="topic"):
        await bus.publish("a..b", b"x")
    with pytest.raises(PayloadTooLarge, match="exceeds the bus limit of 10 bytes"):
        await bus.publish("a.b", b"x" * 11)
    with pytest.raises(InvalidInput, match="reserved"):
        await bus.publish("a.b", b"x", headers={MESSAGE_ID_PROPERTY: "forged"})
    await bus.close()


@pytest.fixture
async def fake_pulsar_bus(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[PulsarBus]:
    broker = FakeBroker()
    monkeypatch.setattr("silobridge.bus.pulsar.pulsar.Client", lambda url, **kw: FakeClient(broker))
    bus = PulsarBus("pulsar://fake:6650", prefix="p1", retry_delay_ms=10)
    await bus.start()
    yield bus
    await bus.close()


async def test_bridge_delivers_retries_and_dead_letters(fake_pulsar_bus: PulsarBus) -> None:
    """The pump thread, the send callback and the settle path, end to end on a fake client."""
    bus = fake_pulsar_bus
    seen: list[Message] = []
    done = asyncio.Event()

    async def handler(msg: Message) -> None:
        seen.append(msg)
        if len(seen) == 4:
            done.set()
        if msg.body == b"flaky" and msg.delivery_count == 1:
            raise RetryableError("busy")
        if msg.body == b"poison":
            raise PermanentError("bad")

    await bus.subscribe("a.#", handler, group="g")
    mid = await bus.publish("a.b", b"ok", headers={"k": "v"})
    await bus.publish("a.c", b"flaky")
    poison = await bus.publish("a.d", b"poison")
    await asyncio.wait_for(done.wait(), 10)
    by_body = {(m.body, m.delivery_count): m for m in seen}
    assert sorted(by_body) == [(b"flaky", 1), (b"flaky", 2), (b"ok", 1), (b"poison", 1)]
    assert by_body[(b"ok", 1)].message_id == mid and dict(by_body[(b"ok", 1)].headers) == {"k": "v"}
    assert by_body[(b"flaky", 2)].redelivered
    dead: list[Message] = []
    for _ in range(100):
        dead += await bus.dead_letters("g")
        if dead:
            break
        await asyncio.sleep(0.02)
    assert [(d.message_id, d.topic, d.body) for d in dead] == [(poison, "a.d", b"poison")]


async def test_cancel_hands_the_message_in_progress_back(fake_pulsar_bus: PulsarBus) -> None:
    bus = fake_pulsar_bus
    started = asyncio.Event()

    async def stuck(msg: Message) -> None:
        started.set()
        await asyncio.Event().wait()

    sub = await bus.subscribe("s.x", stuck, group="s")
    await bus.publish("s.x", b"1")
    await asyncio.wait_for(started.wait(), 10)
    await sub.cancel()
    got: list[Message] = []
    arrived = asyncio.Event()

    async def collect(msg: Message) -> None:
        got.append(msg)
        arrived.set()

    await bus.subscribe("s.x", collect, group="s")
    await asyncio.wait_for(arrived.wait(), 10)
    assert (got[0].body, got[0].redelivered) == (b"1", True)
