"""The broker restarts under traffic: every message whose publish was confirmed is handled, and
its effect happens once (a publisher retries what was not confirmed, under the same id)."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest
from brokers import AMQP_URL, PULSAR_URL, restart_broker
from contract_brokers import unique_prefix

from silobridge.bus.base import Message
from silobridge.bus.dedup import Deduplicator
from silobridge.bus.factory import create_bus
from silobridge.bus.rabbitmq import RabbitMQBus
from silobridge.errors import BusUnavailable

pytestmark = pytest.mark.slow

BROKERS = [
    pytest.param("rabbitmq", AMQP_URL, id="rabbitmq", marks=pytest.mark.rabbitmq),
    pytest.param("pulsar", PULSAR_URL, id="pulsar", marks=pytest.mark.pulsar),
]


@pytest.mark.parametrize(("name", "url"), BROKERS)
@pytest.mark.parametrize(
    "restarts", [pytest.param(1, id="once"), pytest.param(3, id="3x", marks=pytest.mark.long)]
)
async def test_no_confirmed_message_is_lost_or_applied_twice(
    tmp_path: Path, name: str, url: str, restarts: int
) -> None:
    prefix = unique_prefix("r")
    producer, consumer = create_bus(url, prefix=prefix), create_bus(url, prefix=prefix)
    await producer.start()
    await consumer.start()
    dedup = Deduplicator(path=tmp_path / "dedup.sqlite")
    deliveries: Counter[str] = Counter()
    effects: Counter[str] = Counter()

    async def handle(msg: Message) -> None:
        deliveries[msg.message_id] += 1
        if dedup.seen(msg.message_id):
            return
        effects[msg.message_id] += 1
        dedup.mark(msg.message_id)

    await consumer.subscribe("rs.#", handle, group="rs")
    confirmed: list[str] = []
    refused = 0
    stop = asyncio.Event()

    async def produce() -> None:
        nonlocal refused
        i, after_stop = 0, 0
        while after_stop < 20:  # and 20 more once the restarts are over
            after_stop += stop.is_set()
            mid = f"m{i}"
            while True:  # not confirmed: publish it again, under the same id
                try:
                    await producer.publish(f"rs.t{i % 3}", mid.encode(), message_id=mid)
                    break
                except BusUnavailable:
                    refused += 1
                    await asyncio.sleep(0.2)
            confirmed.append(mid)
            i += 1
            await asyncio.sleep(0.01)

    task = asyncio.create_task(produce())
    try:
        outages = []
        for _ in range(restarts):
            # traffic flows before each restart: wait for fresh confirmations, not for a fixed time
            await _confirmations(confirmed, len(confirmed) + 10, within_s=120)
            outages.append(await asyncio.to_thread(restart_broker, name))
        stop.set()
        await asyncio.wait_for(task, 120)
        deadline = asyncio.get_running_loop().time() + 90
        while set(confirmed) - set(effects) and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.2)
        missing = sorted(set(confirmed) - set(effects), key=lambda m: int(m[1:]))
        assert not missing, f"{len(missing)} confirmed messages never handled after {outages}: {missing[:10]}"
        assert set(effects) == set(confirmed)
        assert max(effects.values()) == 1  # applied once, however often delivered
        assert sum(deliveries.values()) >= len(confirmed)
        assert len(confirmed) >= 10 * restarts + 20  # 10 before each restart and 20 after the last
    finally:
        task.cancel()
        dedup.close()
        if isinstance(consumer, RabbitMQBus):
            await consumer.delete_namespace()
        else:
            await consumer.delete_group("rs")
        await consumer.close()
        await producer.close()


async def _confirmations(confirmed: list[str], count: int, within_s: float) -> None:
    """Waits until `count` publishes are confirmed; fails naming how far it got."""
    deadline = asyncio.get_running_loop().time() + within_s
    while len(confirmed) < count:
        assert asyncio.get_running_loop().time() < deadline, (
            f"only {len(confirmed)} of {count} publishes confirmed within {within_s} s"
        )
        await asyncio.sleep(0.05)
