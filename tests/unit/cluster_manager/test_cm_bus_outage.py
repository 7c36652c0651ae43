"""A broker outage silences every node at once: nobody is declared lost for it."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from cm_support import FakeClock, call
from test_cm_service import heartbeat, nodes, register

from cluster_manager.bus_probe import PROBE_TOPIC
from cluster_manager.service import ClusterManagerService
from silobridge.bus.memory import MemoryBus
from silobridge.cluster.v1 import cluster_pb2 as pb
from silobridge.errors import BusUnavailable


class Outage:
    """Makes the memory bus refuse what the cluster-manager publishes, as a stopped broker would."""

    def __init__(self, bus: MemoryBus, monkeypatch: pytest.MonkeyPatch) -> None:
        self.down = False
        real = bus.publish

        async def publish(
            topic: str,
            body: bytes,
            *,
            message_id: str | None = None,
            headers: Mapping[str, str] | None = None,
        ) -> str:
            if self.down:
                raise BusUnavailable(f"broker unreachable (publishing {topic})")
            return await real(topic, body, message_id=message_id, headers=headers)

        monkeypatch.setattr(bus, "publish", publish)


async def test_nodes_silent_during_an_outage_get_a_grace_period_after_it(
    cm: ClusterManagerService, clock: FakeClock, bus: MemoryBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    outage = Outage(bus, monkeypatch)
    await call(cm, register("a"))
    await call(cm, register("b"))
    outage.down = True
    clock.advance(20)  # far beyond 3 missed heartbeats of 2 s
    assert await cm.check_liveness() == []
    assert cm.probe.failing
    assert {n.state for n in (await nodes(cm)).values()} == {pb.NODE_STATE_ALIVE}

    outage.down = False
    assert await cm.probe.round_trip()  # the broker is back (the probe loop does this every 2 s)
    clock.advance(20)  # inside the 30 s grace: still reconnecting
    assert await cm.check_liveness() == []
    clock.advance(8)
    await call(cm, heartbeat("b"))  # b came back, a never does
    clock.advance(3)  # 31 s since the broker returned
    lost = await cm.check_liveness()
    assert [n.node_id for n in lost] == ["a"]
    assert (await nodes(cm))["b"].state == pb.NODE_STATE_ALIVE


async def test_probe_goes_through_the_bus(cm: ClusterManagerService, bus: MemoryBus) -> None:
    seen: list[bytes] = []

    async def tap(msg: object) -> None:
        seen.append(getattr(msg, "body", b""))

    await bus.subscribe(PROBE_TOPIC, tap, group="tap")
    assert await cm.probe.round_trip()
    assert len(seen) == 1
