"""Fixtures for node-manager unit tests: a fake cluster-manager on a memory bus and a node."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from nm_support import NODE, FakeCluster, TaskEvents

from node_manager.service import NodeManagerService
from node_manager.settings import NodeManagerSettings
from silobridge import topics
from silobridge.bus.memory import MemoryBus
from silobridge.bus.rpc import RpcClient, serve
from silobridge.observability.metrics import ServiceMetrics


@pytest.fixture
async def cluster(bus: MemoryBus) -> FakeCluster:
    fake = FakeCluster()
    fake.sub = await serve(bus, topics.CLUSTER_RPC, fake.handle, group="cluster-manager")
    return fake


@pytest.fixture
async def events(bus: MemoryBus) -> TaskEvents:
    ev = TaskEvents()
    await bus.subscribe(topics.FLOW_EVENTS, ev.on_message, group="test-flow-events")
    return ev


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., NodeManagerSettings]:
    def make(**overrides: object) -> NodeManagerSettings:
        values: dict[str, object] = {
            "node_id": NODE,
            "data_dir": tmp_path / "node",
            "heartbeat_interval_s": 0.05,
            "compute_workers": 1,
            "default_partitions": 3,
        }
        values.update(overrides)
        return NodeManagerSettings.model_validate(values)

    return make


@pytest.fixture
async def node(
    bus: MemoryBus, cluster: FakeCluster, make_settings: Callable[..., NodeManagerSettings]
) -> AsyncIterator[NodeManagerService]:
    svc = NodeManagerService(make_settings(), bus, ServiceMetrics("node-manager", 9999))
    await svc.start()
    await asyncio.wait_for(svc.registered.wait(), 5)
    yield svc
    await svc.stop()


@pytest.fixture
async def rpc(bus: MemoryBus) -> AsyncIterator[RpcClient]:
    client = RpcClient(bus, "test-flow")
    yield client
    await client.close()
