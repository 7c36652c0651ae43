"""A party's compute plane in one event loop: a cluster-manager and node-managers on one
MemoryBus, a flow-like client speaking only the bus contracts, and a stand-in router."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

from cluster_manager.service import ClusterManagerService
from cluster_manager.settings import ClusterManagerSettings
from node_manager.service import NodeManagerService
from node_manager.settings import NodeManagerSettings
from silobridge import topics
from silobridge.bus.base import Message
from silobridge.bus.memory import MemoryBus
from silobridge.bus.rpc import RpcClient
from silobridge.cluster.v1 import cluster_pb2 as cpb
from silobridge.components.registry import ComponentDef, TaskResult, register
from silobridge.errors import ComponentError
from silobridge.federation.context import TaskContext
from silobridge.federation.v1 import envelope_pb2 as env_pb
from silobridge.node.v1 import node_pb2 as pb
from silobridge.observability.metrics import ServiceMetrics

HEARTBEAT_S = 0.1
FINAL = (pb.TASK_STATE_SUCCEEDED, pb.TASK_STATE_FAILED, pb.TASK_STATE_CANCELLED)


def _normalise(ctx: TaskContext) -> TaskResult:
    table = ctx.input("data")
    out = table.take(list(range(table.rows)))
    out.features = out.features - out.features.mean(axis=0)
    ctx.log_metric("rows_seen", table.rows)
    return TaskResult(tables={"centred": out}, summary={"rows": float(table.rows)})


def _broken(ctx: TaskContext) -> TaskResult:
    raise ComponentError(f"feature x1 has no variance at party {ctx.party_id}")


def _waits_for_host(ctx: TaskContext) -> TaskResult:
    ctx.recv("host", "gradient")
    return TaskResult()


register(ComponentDef(name="cptest_normalise", roles={"guest": _normalise}))
register(ComponentDef(name="cptest_broken", roles={"guest": _broken}))
register(ComponentDef(name="cptest_waits", roles={"guest": _waits_for_host}))


class EventLog:
    def __init__(self) -> None:
        self.tasks: list[pb.TaskEvent] = []
        self.cluster: list[cpb.ClusterEvent] = []

    async def on_task(self, msg: Message) -> None:
        ev = pb.TaskEvent()
        ev.ParseFromString(msg.body)
        self.tasks.append(ev)

    async def on_cluster(self, msg: Message) -> None:
        ev = cpb.ClusterEvent()
        ev.ParseFromString(msg.body)
        self.cluster.append(ev)

    def states(self, task: str, party: int | None = None) -> list[str]:
        return [
            pb.TaskState.Name(e.state).removeprefix("TASK_STATE_")
            for e in self.tasks
            if e.task_name == task and (party is None or e.party_id == party)
        ]

    async def final(self, task: str, party: int | None = None, timeout: float = 10.0) -> pb.TaskEvent:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for e in self.tasks:
                if e.task_name == task and (party is None or e.party_id == party) and e.state in FINAL:
                    return e
            await asyncio.sleep(0.01)
        raise AssertionError(f"task {task} did not finish: {self.states(task, party)}")

    async def lost(self, node_id: str, timeout: float = 5.0) -> cpb.NodeInfo:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for e in self.cluster:
                if e.WhichOneof("event") == "node_lost" and e.node_lost.node_id == node_id:
                    return e.node_lost
            await asyncio.sleep(0.02)
        raise AssertionError(f"node {node_id} was not reported lost")


@dataclass
class Party:
    """One party's cluster-manager and node-managers, plus a flow-like client on the same bus."""

    party_id: int
    root: Path
    node_ids: tuple[str, ...]
    bus: MemoryBus = field(default_factory=MemoryBus)
    events: EventLog = field(default_factory=EventLog)
    cm: ClusterManagerService | None = None
    nodes: dict[str, NodeManagerService] = field(default_factory=dict)
    rpc: RpcClient | None = None

    async def start(self) -> None:
        await self.bus.start()
        await self.bus.subscribe(topics.FLOW_EVENTS, self.events.on_task, group="test-flow-events")
        await self.bus.subscribe(topics.CLUSTER_EVENTS, self.events.on_cluster, group="test-cluster-events")
        cm_settings = ClusterManagerSettings(
            party_id=self.party_id,
            data_dir=self.root / "cm",
            heartbeat_interval_s=HEARTBEAT_S,
            lost_after_missed=3,
            check_interval_s=0.05,
        )
        self.cm = ClusterManagerService(
            cm_settings, self.bus, ServiceMetrics("cluster-manager", self.party_id)
        )
        await self.cm.start()
        for node_id in self.node_ids:
            settings = NodeManagerSettings(
                party_id=self.party_id,
                node_id=node_id,
                data_dir=self.root / node_id,
                heartbeat_interval_s=HEARTBEAT_S,
                compute_workers=1,
            )
            nm = NodeManagerService(settings, self.bus, ServiceMetrics("node-manager", self.party_id))
            await nm.start()
            self.nodes[node_id] = nm
        for nm in self.nodes.values():
            await asyncio.wait_for(nm.registered.wait(), 5)
        self.rpc = RpcClient(self.bus, "test-flow")

    async def stop(self) -> None:
        if self.rpc is not None:
            await self.rpc.close()
        for nm in self.nodes.values():
            await nm.stop()
        if self.cm is not None:
            await self.cm.stop()
        await self.bus.close()

    async def cluster(self, req: cpb.ClusterRequest) -> cpb.ClusterReply:
        assert self.rpc is not None
        reply = cpb.ClusterReply()
        reply.ParseFromString(await self.rpc.request(topics.CLUSTER_RPC, req.SerializeToString(), timeout=5))
        return reply

    async def node(self, node_id: str, cmd: pb.NodeCommand) -> cpb.ClusterReply:
        assert self.rpc is not None
        reply = cpb.ClusterReply()
        reply.ParseFromString(
            await self.rpc.request(topics.node_cmd(node_id), cmd.SerializeToString(), timeout=5)
        )
        return reply


class StandInRouter:
    """What two rollsite routers do for federation envelopes: deliver them to the peer's bus."""

    def __init__(self, parties: dict[int, MemoryBus]) -> None:
        self.parties = parties
        self.delivered = 0

    async def start(self) -> None:
        for party_id, bus in self.parties.items():
            await bus.subscribe(topics.ROUTER_OUTBOUND, self._forward, group=f"router-{party_id}")

    async def _forward(self, msg: Message) -> None:
        env = env_pb.Envelope()
        env.ParseFromString(msg.body)
        target = self.parties[env.dst.party_id]
        # as the real router: keep the value even if the receiving task has not subscribed yet
        await target.declare_group(topics.fed_pattern(env.session), topics.fed_group(env.session))
        await target.publish(topics.fed_topic(env.session, env.name, env.tag), msg.body)
        self.delivered += 1
