"""A Pulsar producer whose first message is cut off by a broker restart keeps its next message.

pulsar-client's producer, when it has never had a receipt, takes the broker's "last sequence id"
again on reconnect, resends its first message and numbers the next one the same. A broker with
deduplication on stores the first and drops the second as a duplicate while answering ok (id
-1:-1). silobridge runs Pulsar with deduplication off (consumers are idempotent on the message
id), and refuses a -1:-1 receipt, so a message is never reported stored when it was dropped.
"""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from brokers import PULSAR_ADMIN_URL, PULSAR_URL, broker_service
from contract_brokers import unique_prefix

from silobridge.bus.base import Message
from silobridge.bus.pulsar import PulsarBus, parse_pulsar_url
from silobridge.bus.pulsar_admin import ensure_namespace
from silobridge.errors import BusUnavailable

pytestmark = [pytest.mark.pulsar, pytest.mark.slow, pytest.mark.timeout(600)]


def _namespace(dedup: bool) -> str:
    """A fresh tenant/namespace prepared as the services prepare theirs; ``dedup`` forces
    deduplication on afterwards (the broker setting this bus must not rely on)."""
    service_url, _, _ = parse_pulsar_url(PULSAR_URL)
    tenant = f"resend{uuid.uuid4().hex[:8]}"
    ensure_namespace(PULSAR_ADMIN_URL, tenant, "ns")
    policy = f"{PULSAR_ADMIN_URL}/admin/v2/namespaces/{tenant}/ns/deduplication"
    if dedup:
        httpx.post(policy, json=True, timeout=30).raise_for_status()
    assert httpx.get(policy, timeout=30).json() is dedup
    return f"{service_url}/{tenant}/ns"


class _Pair:
    """A consumer group and a producer on one namespace; the producer has no receipt yet."""

    def __init__(self, url: str) -> None:
        prefix = unique_prefix("cut")
        self.consumer = PulsarBus(url, prefix=prefix)
        self.producer = PulsarBus(url, prefix=prefix, publish_timeout=200)  # waits out the restart
        self.received: list[bytes] = []

    async def _handle(self, msg: Message) -> None:
        self.received.append(msg.body)

    async def open(self) -> None:
        await self.consumer.start()
        await self.producer.start()
        await self.consumer.subscribe("cut.#", self._handle, group="cut")
        await self.producer._producer(self.producer._stream_topic("cut"))

    async def second(self) -> BaseException | None:
        try:
            await self.producer.publish("cut.a", b"second")
        except BusUnavailable as exc:
            return exc
        return None

    async def close(self) -> None:
        await self.consumer.delete_group("cut")
        await self.consumer.close()
        await self.producer.close()


async def test_a_first_message_cut_off_by_a_restart_keeps_the_next_one() -> None:
    """Deduplication off (as the services run): both messages arrive. Forced on: the broker drops
    the second while answering ok, and the publish fails naming deduplication."""
    off, on = _Pair(_namespace(dedup=False)), _Pair(_namespace(dedup=True))
    try:
        for pair in (off, on):
            await pair.open()
        await asyncio.to_thread(broker_service, "stop", "pulsar")
        firsts = [asyncio.create_task(p.producer.publish("cut.a", b"first")) for p in (off, on)]
        await asyncio.sleep(0.5)
        await asyncio.to_thread(broker_service, "start", "pulsar")
        await asyncio.gather(*firsts)
        failure_off, failure_on = await off.second(), await on.second()
        deadline = asyncio.get_running_loop().time() + 60
        while len(set(off.received)) < 2 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)  # time for anything else to arrive

        assert failure_off is None
        assert set(off.received) == {b"first", b"second"}
        assert isinstance(failure_on, BusUnavailable) and "deduplication" in str(failure_on), failure_on
        assert set(on.received) == {b"first"}  # dropped by the broker, and the caller was told
    finally:
        for pair in (off, on):
            await pair.close()
