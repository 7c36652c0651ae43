"""Helpers of the node-manager unit tests: a fake cluster-manager, an event log, command
builders, and small components registered for these tests only."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np

from silobridge import topics
from silobridge.bus.base import Message, Subscription
from silobridge.bus.rpc import RpcClient
from silobridge.cluster.v1 import cluster_pb2 as cpb
from silobridge.components.registry import ComponentDef, Params, TaskResult, register
from silobridge.errors import ComponentError
from silobridge.federation.context import TaskContext
from silobridge.node.v1 import node_pb2 as pb

NODE = "nm-test"

# ----- components for these tests -------------------------------------------------------------


class ScaleParams(Params):
    factor: float = 1.0


def _scale(ctx: TaskContext) -> TaskResult:
    table = ctx.input("data")
    scaled = table.take(np.arange(table.rows))
    scaled.features = scaled.features * ctx.param("factor")
    for i in range(4):
        ctx.log_metric("step_loss", 1.0 / (i + 1), step=i)
        ctx.progress((i + 1) / 4)
    return TaskResult(
        tables={"scaled": scaled},
        model={"factor": float(ctx.param("factor")), "means": scaled.features.mean(axis=0)},
        summary={"rows": float(table.rows)},
    )


def _fail(ctx: TaskContext) -> TaskResult:
    raise ComponentError(f"column x9 is constant at party {ctx.party_id}")


def _crash(ctx: TaskContext) -> TaskResult:
    raise ValueError("secret row 17 of the data")


WAITING_RECV: dict[str, threading.Event] = {"interrupted": threading.Event()}


def _peer_silent(ctx: TaskContext) -> TaskResult:
    ctx.recv("host", "never_sent", timeout=0.2)  # a transient failure: RequestTimeout
    return TaskResult()


def _wait_for_host(ctx: TaskContext) -> TaskResult:
    try:
        ctx.recv("host", "never_sent")
    except BaseException:
        WAITING_RECV["interrupted"].set()
        raise
    return TaskResult()


STARTS: list[str] = []


def _count_start(ctx: TaskContext) -> TaskResult:
    STARTS.append(ctx.task_name)
    time.sleep(0.2)
    return TaskResult(summary={"started": float(len(STARTS))})


register(ComponentDef(name="nmtest_scale", roles={"guest": _scale, "host": _scale}, params=ScaleParams))
register(ComponentDef(name="nmtest_fail", roles={"guest": _fail}))
register(ComponentDef(name="nmtest_crash", roles={"guest": _crash}))
register(ComponentDef(name="nmtest_wait", roles={"guest": _wait_for_host}))
register(ComponentDef(name="nmtest_peer_silent", roles={"guest": _peer_silent}))
register(ComponentDef(name="nmtest_count", roles={"guest": _count_start}))

# ----- a fake cluster-manager -------------------------------------------------------------


class FakeCluster:
    """Answers cluster.rpc like the real one for what a node-manager asks; records every request."""

    def __init__(self) -> None:
        self.requests: list[cpb.ClusterRequest] = []
        self.tables: dict[tuple[str, str], cpb.TableMeta] = {}
        self.fail_put = False
        self.put_unavailable = False  # PutTableMeta answers a retryable error
        self.forget_nodes = False
        self.sub: Subscription | None = None

    def kinds(self) -> list[str]:
        return [r.WhichOneof("request") or "" for r in self.requests]

    async def handle(self, body: bytes) -> bytes:
        req = cpb.ClusterRequest()
        req.ParseFromString(body)
        self.requests.append(req)
        kind = req.WhichOneof("request")
        if kind == "register_node":
            return cpb.ClusterReply(node=req.register_node.node).SerializeToString()
        if kind == "heartbeat":
            if self.forget_nodes:  # as after losing its database
                self.forget_nodes = False
                err = cpb.Error(code="not_found", message="node is not registered")
                return cpb.ClusterReply(error=err).SerializeToString()
            return cpb.ClusterReply(node=cpb.NodeInfo(node_id=req.heartbeat.node_id)).SerializeToString()
        if kind == "put_table_meta":
            if self.fail_put or self.put_unavailable:
                err = cpb.Error(code="internal", message="db down", retryable=self.put_unavailable)
                return cpb.ClusterReply(error=err).SerializeToString()
            meta = req.put_table_meta
            if not meta.partitions:  # as the real one: a delete is DeleteTableMeta
                err = cpb.Error(code="invalid_input", message="metadata lists no partitions")
                return cpb.ClusterReply(error=err).SerializeToString()
            self.tables[(meta.namespace, meta.name)] = meta
            return cpb.ClusterReply(table=meta).SerializeToString()
        if kind == "delete_table_meta":
            key = (req.delete_table_meta.namespace, req.delete_table_meta.name)
            if self.tables.pop(key, None) is None:
                err = cpb.Error(code="not_found", message=f"table {key[0]}.{key[1]} is not known")
                return cpb.ClusterReply(error=err).SerializeToString()
            return cpb.ClusterReply(ok=True).SerializeToString()
        if kind == "get_table_meta":
            found = self.tables.get((req.get_table_meta.namespace, req.get_table_meta.name))
            if found is None:
                err = cpb.Error(code="not_found", message="table is not known")
                return cpb.ClusterReply(error=err).SerializeToString()
            return cpb.ClusterReply(table=found).SerializeToString()
        return cpb.ClusterReply(ok=True).SerializeToString()


class TaskEvents:
    def __init__(self) -> None:
        self.items: list[pb.TaskEvent] = []

    async def on_message(self, msg: Message) -> None:
        ev = pb.TaskEvent()
        ev.ParseFromString(msg.body)
        self.items.append(ev)

    def of(self, task_name: str) -> list[pb.TaskEvent]:
        return [e for e in self.items if e.task_name == task_name]

    def states(self, task_name: str) -> list[str]:
        return [pb.TaskState.Name(e.state).removeprefix("TASK_STATE_") for e in self.of(task_name)]

    async def final(self, task_name: str, timeout: float = 10.0) -> pb.TaskEvent:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for ev in self.of(task_name):
                if ev.state in (pb.TASK_STATE_SUCCEEDED, pb.TASK_STATE_FAILED, pb.TASK_STATE_CANCELLED):
                    return ev
            await asyncio.sleep(0.01)
        raise AssertionError(f"no final event for {task_name}: {self.states(task_name)}")


async def command(rpc: RpcClient, cmd: pb.NodeCommand, node_id: str = NODE) -> cpb.ClusterReply:
    reply = cpb.ClusterReply()
    reply.ParseFromString(await rpc.request(topics.node_cmd(node_id), cmd.SerializeToString(), timeout=10))
    return reply


CSV = b"id,x0,x1,y\na,1,2,0\nb,3,4,1\nc,5,6,0\nd,7,8,1\ne,9,10,0\n"


def store_cmd(
    ns: str = "ns", name: str = "t", csv: bytes = CSV, partitions: int = 0, label: str = "y"
) -> pb.NodeCommand:
    return pb.NodeCommand(
        store_table=pb.StoreTable(
            table=pb.TableRef(namespace=ns, name=name),
            csv=csv,
            id_column="id",
            label_column=label,
            partitions=partitions,
        )
    )


def run_cmd(task: str, component: str, **fields: object) -> pb.NodeCommand:
    run = pb.RunTask(
        job_id=str(fields.pop("job_id", "job1")),
        task_name=task,
        attempt=int(fields.pop("attempt", 1)),  # type: ignore[call-overload]
        component=component,
        role=str(fields.pop("role", "guest")),
        party_id=9999,
        parties=[
            pb.RoleParties(role="guest", party_ids=[9999]),
            pb.RoleParties(role="host", party_ids=[10000]),
        ],
        output_namespace="out",
        **fields,  # type: ignore[arg-type]
    )
    return pb.NodeCommand(run_task=run)
