"""A consumer process SIGKILLed before its ack, on every broker: the message comes back to the next
consumer, and the persistent Deduplicator keeps the effect to exactly once (ARCHITECTURE.md §3:
at-least-once delivery, idempotent handlers)."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from brokers import AMQP_URL, PULSAR_URL
from bus_contract import Inbox
from contract_brokers import unique_prefix

from silobridge.bus.base import Bus
from silobridge.bus.factory import create_bus
from silobridge.bus.rabbitmq import RabbitMQBus

pytestmark = pytest.mark.multiprocess

BROKERS = [
    pytest.param(AMQP_URL, id="rabbitmq", marks=pytest.mark.rabbitmq),
    pytest.param(PULSAR_URL, id="pulsar", marks=pytest.mark.pulsar),
]

HELPER = Path(__file__).with_name("crash_consumer.py")
GROUP, PATTERN = "crash", "crash.#"


def events(state: Path) -> list[dict[str, Any]]:
    path = state / "deliveries.log"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


async def wait_event(
    state: Path, proc: subprocess.Popen[bytes], event: str, timeout: float = 30.0
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        for e in events(state):
            if e["pid"] == proc.pid and e["event"] == event:
                return e
        if proc.poll() is not None and event != "exit":
            pytest.fail(
                f"consumer exited with {proc.returncode} before {event!r}: {proc.stderr and proc.stderr.read()!r}"
            )
        await asyncio.sleep(0.05)
    pytest.fail(f"consumer {proc.pid} did not report {event!r} within {timeout}s: {events(state)}")


def start_consumer(url: str, prefix: str, state: Path, mode: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, str(HELPER), "--url", url, "--prefix", prefix, "--group", GROUP]
    cmd += ["--pattern", PATTERN, "--state", str(state), "--mode", mode]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


async def _cleanup(bus: Bus) -> None:
    if isinstance(bus, RabbitMQBus):
        await bus.delete_namespace()
    else:
        await bus.delete_group(GROUP)


@pytest.mark.parametrize("url", BROKERS)
@pytest.mark.parametrize("crash_point", ["hang-after-effect", "hang-before-effect"])
async def test_sigkill_before_ack_redelivers_and_effect_happens_once(
    tmp_path: Path, crash_point: str, url: str
) -> None:
    bus = create_bus(url, prefix=unique_prefix("k"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        await bus.declare_group(PATTERN, GROUP)
        mid = await bus.publish("crash.job1", b"effect me", message_id=f"msg-{crash_point}")

        first = start_consumer(url, bus.prefix, tmp_path, crash_point)
        procs.append(first)
        hanging = await wait_event(tmp_path, first, "hanging")
        assert hanging["id"] == mid
        first.send_signal(signal.SIGKILL)
        assert first.wait(timeout=10) == -signal.SIGKILL

        second = start_consumer(url, bus.prefix, tmp_path, "normal")
        procs.append(second)
        await wait_event(tmp_path, second, "exit")
        assert second.wait(timeout=10) == 0

        redelivery = next(e for e in events(tmp_path) if e["pid"] == second.pid and e["event"] == "delivery")
        if url == AMQP_URL:  # the quorum queue counts the delivery the killed consumer lost
            assert (redelivery["id"], redelivery["redelivered"], redelivery["count"]) == (mid, True, 2)
        else:  # Pulsar forgets it with the group's last consumer (silobridge.bus.pulsar, limits)
            assert redelivery["id"] == mid
        outcome = "duplicate" if crash_point == "hang-after-effect" else "applied"
        assert any(e["pid"] == second.pid and e["event"] == outcome for e in events(tmp_path))
        assert (tmp_path / "effects.log").read_text().splitlines() == [mid]  # exactly once

        # Nothing left behind: a fresh consumer of the group gets nothing, and nothing was dead-lettered.
        inbox = Inbox()
        await bus.subscribe(PATTERN, inbox, group=GROUP)
        await asyncio.sleep(1.0)
        assert inbox.messages == []
        assert await bus.dead_letters(GROUP) == []
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
            if proc.stderr is not None:
                proc.stderr.close()
        await _cleanup(bus)
        await bus.close()
