"""Fixtures for cluster-manager unit tests: a fake clock, a memory bus and the service on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cm_support import Events, FakeClock

from cluster_manager.memory_store import MemoryClusterStore
from cluster_manager.service import ClusterManagerService
from cluster_manager.settings import ClusterManagerSettings
from silobridge import topics
from silobridge.bus.memory import MemoryBus
from silobridge.observability.metrics import ServiceMetrics


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(tmp_path: Path) -> ClusterManagerSettings:
    return ClusterManagerSettings(
        data_dir=tmp_path, heartbeat_interval_s=2.0, lost_after_missed=3, check_interval_s=3600
    )


@pytest.fixture
async def events(bus: MemoryBus) -> Events:
    ev = Events()
    await bus.subscribe(topics.CLUSTER_EVENTS, ev.on_message, group="test-cluster-events")
    return ev


@pytest.fixture
async def cm(
    settings: ClusterManagerSettings, bus: MemoryBus, clock: FakeClock
) -> AsyncIterator[ClusterManagerService]:
    svc = ClusterManagerService(
        settings, bus, ServiceMetrics("cluster-manager", 9999), store=MemoryClusterStore(), clock=clock
    )
    await svc.start()
    yield svc
    await svc.stop()
