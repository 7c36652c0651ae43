"""A node-manager stops, every time: also when stop lands as a cluster-manager reply arrives.

The slot-limit test used to hang in about 1 run in 20 in ``NodeManagerService.stop``: the
heartbeat loop was cancelled in the same loop iteration as a heartbeat reply arrived, Python
3.11's ``asyncio.wait_for`` (inside ``RpcClient.request``) returned the reply and dropped the
cancellation, and ``stop`` waited for a loop that went on heartbeating.

``test_start_stop_cycles_never_hang`` repeats start / queue tasks beyond the slot limit / stop for
``SILOBRIDGE_SOAK_SECONDS`` (default 3 s), so that ``make soak`` can run it for minutes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from nm_support import FakeCluster, TaskEvents, command, run_cmd
from soak_budget import soak_seconds

from node_manager.cluster_client import ClusterClient
from node_manager.service import NodeManagerService
from node_manager.settings import NodeManagerSettings
from silobridge.bus.memory import MemoryBus
from silobridge.bus.rpc import RpcClient
from silobridge.cluster.v1 import cluster_pb2 as cpb
from silobridge.node.v1 import node_pb2 as pb
from silobridge.observability.metrics import ServiceMetrics

STOP_LIMIT_S = 15.0  # a stop that takes longer is a hang


class ReplyAsCancelled:
    """Stands in for RpcClient: the reply and the caller's cancellation land in one iteration."""

    def __init__(self) -> None:
        self.caller: asyncio.Task[object] | None = None

    async def request(
        self, topic: str, body: bytes, *, timeout: float = 10.0, retry_for: float = 0.0
    ) -> bytes:
        fut: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        reply = cpb.ClusterReply(node=cpb.NodeInfo(node_id="n1")).SerializeToString()

        def reply_and_cancel() -> None:
            fut.set_result(reply)
            assert self.caller is not None
            self.caller.cancel()

        asyncio.get_running_loop().call_soon(reply_and_cancel)
        return await asyncio.wait_for(fut, timeout)  # as RpcClient.request waits


async def test_cancel_that_lands_with_the_reply_still_cancels_the_caller(bus: MemoryBus) -> None:
    client = ClusterClient(bus, "node-n1", timeout_s=5)
    fake = ReplyAsCancelled()
    client._rpc = fake  # type: ignore[assignment]
    fake.caller = asyncio.ensure_future(client.heartbeat("n1", 0))
    done, _ = await asyncio.wait({fake.caller}, timeout=5)
    assert done, "heartbeat neither returned nor was cancelled"
    assert fake.caller.cancelled()  # not a reply that ignores the stop


async def test_start_stop_cycles_never_hang(
    bus: MemoryBus,
    cluster: FakeCluster,
    events: TaskEvents,
    rpc: RpcClient,
    make_settings: Callable[..., NodeManagerSettings],
) -> None:
    deadline = time.monotonic() + soak_seconds(3.0)
    cycles = 0
    while cycles < 3 or time.monotonic() < deadline:
        metrics = ServiceMetrics("node-manager", 9999)
        svc = NodeManagerService(
            make_settings(max_concurrent_tasks=1, heartbeat_interval_s=0.001), bus, metrics
        )
        await svc.start()
        names = [f"c{cycles}_{i}" for i in range(3)]
        for name in names:
            assert (await command(rpc, run_cmd(name, "nmtest_count"))).ok
        if cycles % 2:  # let the first finish and the second take its slot
            await events.final(names[0])
        await asyncio.sleep(0.001 * (cycles % 7))  # stop lands at varied points of a heartbeat
        started = time.monotonic()
        async with asyncio.timeout(STOP_LIMIT_S):
            await svc.stop()
        assert time.monotonic() - started < STOP_LIMIT_S
        for name in names:  # one final event each, whether it ran, waited or was stopped
            final = await events.final(name)
            assert [e.state for e in events.of(name)].count(final.state) == 1
            assert final.state in (pb.TASK_STATE_SUCCEEDED, pb.TASK_STATE_FAILED)
        assert events.states(names[2])[0] == "WAITING"  # the slot limit held
        assert svc.running_tasks() == 0
        assert metrics.registry.get_sample_value("silobridge_node_running_tasks") == 0
        cycles += 1
    print(f"node-manager: {cycles} start/stop cycles, none hung")
