"""Fakes for flow tests: a party = a MemoryBus + fake cluster-manager + one fake node-manager,
and a fake router moving CONTROL envelopes between the parties' buses.

A module of its own (not conftest) so that tests import it by a name no other test folder uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from flow import auth
from flow.service import FlowService
from flow.settings import FlowSettings
from silobridge import topics
from silobridge.bus.base import Message
from silobridge.bus.memory import MemoryBus
from silobridge.bus.rpc import CORRELATION_ID, REPLY_TO
from silobridge.cluster.v1 import cluster_pb2
from silobridge.components import registry
from silobridge.errors import SilobridgeError
from silobridge.federation import codec
from silobridge.federation.v1 import envelope_pb2
from silobridge.flow.v1 import flow_pb2
from silobridge.node.v1 import node_pb2
from silobridge.observability.metrics import InstrumentedBus, ServiceMetrics
from silobridge.table import Table

NODE = "n1"
# A policy that lets every peer run every component on every table (tests of other behaviour).
ALLOW_ALL = 'peers: {"*": {components: "*", tables: ["*"]}}'


def table_meta(full: str, rows: int = 10) -> cluster_pb2.TableMeta:
    ns, name = full.split(".")
    return cluster_pb2.TableMeta(namespace=ns, name=name, rows=rows, id_column="id")


class FakeParty:
    """What flow talks to inside one party, answering like the real services would."""

    def __init__(self, party_id: int, tables: tuple[str, ...] = ()) -> None:
        self.party_id = party_id
        self.bus = MemoryBus(f"memory://party{party_id}")
        self.tables = {t: table_meta(t) for t in tables}
        self.fail: dict[str, str] = {}  # task -> failure message (permanent: not retryable)
        self.fail_first: dict[str, str] = {}  # task -> transient (retryable) failure of attempt 1
        self.hold: set[str] = set()  # tasks that stay RUNNING
        self.hold_first: set[str] = set()  # tasks whose attempt 1 stays RUNNING (its node dies)
        self.summaries: dict[str, dict[str, float]] = {}  # task -> summary of its success
        self.commands: list[node_pb2.NodeCommand] = []
        self.cluster_requests: list[cluster_pb2.ClusterRequest] = []
        self.released: list[str] = []
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        await self.bus.start()
        await self.bus.subscribe(topics.CLUSTER_RPC, self._on_cluster, group="fake-cluster")
        await self.bus.subscribe(topics.node_cmd(NODE), self._on_node, group="fake-node")

    async def cluster_event(self, event: cluster_pb2.ClusterEvent, message_id: str | None = None) -> None:
        """What the cluster-manager publishes on ``cluster.events`` (node lost, session expired)."""
        await self.bus.publish(topics.CLUSTER_EVENTS, event.SerializeToString(), message_id=message_id)

    async def close(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        await self.bus.close()

    def runs(self) -> list[node_pb2.RunTask]:
        return [c.run_task for c in self.commands if c.WhichOneof("command") == "run_task"]

    def cancels(self) -> list[node_pb2.CancelTask]:
        return [c.cancel_task for c in self.commands if c.WhichOneof("command") == "cancel_task"]

    async def _reply(self, msg: Message, reply: cluster_pb2.ClusterReply) -> None:
        await self.bus.publish(
            msg.headers[REPLY_TO],
            reply.SerializeToString(),
            headers={CORRELATION_ID: msg.headers[CORRELATION_ID]},
        )

    async def _on_cluster(self, msg: Message) -> None:
        req = cluster_pb2.ClusterRequest()
        req.ParseFromString(msg.body)
        self.cluster_requests.append(req)
        kind = req.WhichOneof("request")
        reply = cluster_pb2.ClusterReply()
        if kind == "allocate_session":
            reply.session.CopyFrom(
                cluster_pb2.ComputeSession(session_id=req.allocate_session.session_id, node_ids=[NODE])
            )
        elif kind == "release_session":
            self.released.append(req.release_session.session_id)
            reply.ok = True
        elif kind == "get_table_meta":
            key = f"{req.get_table_meta.namespace}.{req.get_table_meta.name}"
            if key in self.tables:
                reply.table.CopyFrom(self.tables[key])
            else:
                reply.error.CopyFrom(cluster_pb2.Error(code="not_found", message=f"no table {key}"))
        elif kind == "list_tables":
            reply.tables.CopyFrom(cluster_pb2.TableList(tables=list(self.tables.values())))
        elif kind == "list_nodes":
            node = cluster_pb2.NodeInfo(node_id=NODE, state=cluster_pb2.NODE_STATE_ALIVE)
            reply.nodes.CopyFrom(cluster_pb2.NodeList(nodes=[node]))
        await self._reply(msg, reply)

    async def _on_node(self, msg: Message) -> None:
        cmd = node_pb2.NodeCommand()
        cmd.ParseFromString(msg.body)
        self.commands.append(cmd)
        kind = cmd.WhichOneof("command")
        if kind == "store_table":
            st = cmd.store_table
            reply = cluster_pb2.ClusterReply()
            try:
                table = Table.from_csv(st.csv, id_column=st.id_column, label_column=st.label_column)
            except SilobridgeError as exc:
                reply.error.CopyFrom(cluster_pb2.Error(code=exc.code, message=str(exc)))
            else:
                full = f"{st.table.namespace}.{st.table.name}"
                self.tables[full] = table_meta(full, table.rows)
                reply.table.CopyFrom(self.tables[full])
            await self._reply(msg, reply)
        elif kind == "run_task":
            task = asyncio.get_running_loop().create_task(self._run(cmd.run_task))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _event(self, run: node_pb2.RunTask, state: int, **fields: Any) -> None:
        ev = node_pb2.TaskEvent(
            job_id=run.job_id,
            task_name=run.task_name,
            attempt=run.attempt,
            party_id=self.party_id,
            role=run.role,
            state=state,  # type: ignore[arg-type]
            node_id=NODE,
            time_unix=time.time(),
            **fields,
        )
        await self.bus.publish(topics.FLOW_EVENTS, ev.SerializeToString())

    async def _run(self, run: node_pb2.RunTask) -> None:
        await asyncio.sleep(0.01)
        points = [node_pb2.MetricPoint(name="loss", step=i, value=1.0 / (i + 1)) for i in range(3)]
        await self._event(run, node_pb2.TASK_STATE_RUNNING, progress=0.5, metrics=points)
        if run.task_name in self.hold or (run.task_name in self.hold_first and run.attempt == 1):
            return
        if run.task_name in self.fail_first and run.attempt == 1:
            await self._event(
                run, node_pb2.TASK_STATE_FAILED, message=self.fail_first[run.task_name], retryable=True
            )
            return
        if run.task_name in self.fail:
            await self._event(run, node_pb2.TASK_STATE_FAILED, message=self.fail[run.task_name])
            return
        outputs = registry.get(run.component).outputs
        ev: dict[str, Any] = {"summary": self.summaries.get(run.task_name, {"rows": 10.0})}
        ev["output_tables"] = {
            o: node_pb2.TableRef(namespace=run.output_namespace, name=f"{run.task_name}_{o}")
            for o in outputs
            if o != "model"
        }
        if "model" in outputs:
            ev["model"] = codec.encode({"weights": 1.5, "task": run.task_name})
        await self._event(run, node_pb2.TASK_STATE_SUCCEEDED, **ev)


class FakeRouter:
    """Moves CONTROL envelopes from each party's router.outbound to the destination's flow.control."""

    def __init__(self, parties: dict[int, FakeParty]) -> None:
        self.parties = parties
        self.sent: list[tuple[int, int, flow_pb2.ControlMessage]] = []  # all but heartbeats
        self.heartbeats: list[tuple[int, int, flow_pb2.Heartbeat]] = []
        self.cut: set[int] = set()  # parties whose router is down: nothing to or from them passes
        self.drop: Callable[[int, flow_pb2.ControlMessage], bool] = lambda dst, msg: False
        self.hold_kinds: set[str] = set()  # these wait in `held` until release()
        self.held: list[tuple[int, bytes, str]] = []
        self.duplicate = False

    async def start(self) -> None:
        for party in self.parties.values():
            await party.bus.subscribe(topics.ROUTER_OUTBOUND, self._on_outbound, group="fake-router")

    async def _on_outbound(self, msg: Message) -> None:
        env = envelope_pb2.Envelope()
        env.ParseFromString(msg.body)
        assert env.channel == envelope_pb2.CHANNEL_CONTROL
        control = flow_pb2.ControlMessage()
        control.ParseFromString(env.payload)
        if env.src.party_id in self.cut or env.dst.party_id in self.cut:
            return
        if control.WhichOneof("command") == "heartbeat":
            self.heartbeats.append((env.src.party_id, env.dst.party_id, control.heartbeat))
        else:
            self.sent.append((env.src.party_id, env.dst.party_id, control))
        if self.drop(env.dst.party_id, control):
            return
        if control.WhichOneof("command") in self.hold_kinds:
            self.held.append((env.dst.party_id, msg.body, env.message_id))
            return
        await self._deliver(env.dst.party_id, msg.body, env.message_id)

    async def _deliver(self, dst: int, body: bytes, message_id: str) -> None:
        bus = self.parties[dst].bus
        await bus.publish(topics.FLOW_CONTROL, body, message_id=message_id)
        if self.duplicate:
            await bus.publish(topics.FLOW_CONTROL, body, message_id=message_id)

    async def release(self) -> None:
        held, self.held = self.held, []
        for dst, body, mid in held:
            await self._deliver(dst, body, mid)

    def kinds(self, src: int, dst: int) -> list[str]:
        return [str(m.WhichOneof("command")) for s, d, m in self.sent if s == src and d == dst]


async def eventually(check: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if isinstance(value, Awaitable):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


class Cluster:
    """Parties, their flows and the router of one test."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.parties: dict[int, FakeParty] = {}
        self.flows: dict[int, FlowService] = {}
        self.router = FakeRouter(self.parties)
        self.clients: list[httpx.AsyncClient] = []
        self.admin_tokens: dict[int, str] = {}

    async def add_party(self, party_id: int, tables: tuple[str, ...] = ()) -> FakeParty:
        party = FakeParty(party_id, tables)
        await party.start()
        self.parties[party_id] = party
        await party.bus.subscribe(topics.ROUTER_OUTBOUND, self.router._on_outbound, group="fake-router")
        return party

    def settings(self, party_id: int, **overrides: Any) -> FlowSettings:
        values: dict[str, Any] = {
            "party_id": party_id,
            "data_dir": self.tmp_path / f"p{party_id}",
            "known_parties": sorted(self.parties),
            "rpc_timeout_s": 2.0,
            "accept_timeout_s": 5.0,
            "watchdog_interval_s": 0.05,
            "retry_delay_s": 0.01,
        }
        values.update(overrides)
        return FlowSettings(**values)

    async def start_flow(
        self, party_id: int, policy: str | None = ALLOW_ALL, **overrides: Any
    ) -> FlowService:
        """Start a party's flow; ``policy`` (default: allow every peer everything) is stored first."""
        metrics = ServiceMetrics("flow", party_id)
        flow = FlowService(
            self.settings(party_id, **overrides),
            InstrumentedBus(self.parties[party_id].bus, metrics),
            metrics,
        )
        await flow.start()
        if policy is not None and flow.settings.policy_file is None:
            flow.coordinator.governance.set_policy(policy, "test")
        if flow.bootstrap_token_file is not None:
            self.admin_tokens[party_id] = flow.bootstrap_token_file.read_text().strip()
        self.flows[party_id] = flow
        return flow

    def token(self, party_id: int, role: str, name: str = "") -> str:
        """A new API token of ``role`` at a party's flow."""
        secret, _ = auth.issue(self.flows[party_id].store, name or f"test-{role}-{len(self.clients)}", role)
        return secret

    async def stop_flow(self, party_id: int) -> None:
        await self.flows.pop(party_id).stop()

    def client(self, party_id: int, token: str | None = "admin") -> httpx.AsyncClient:
        """An API client of a party's flow: with its admin token, another ``token``, or none."""
        secret = self.admin_tokens[party_id] if token == "admin" else token
        headers = {"Authorization": f"Bearer {secret}"} if secret else {}
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.flows[party_id].app),
            base_url="http://flow",
            headers=headers,
        )  # type: ignore[arg-type]
        self.clients.append(client)
        return client

    async def close(self) -> None:
        for c in self.clients:
            await c.aclose()
        for flow in list(self.flows.values()):
            with contextlib.suppress(Exception):
                await flow.stop()
        for party in self.parties.values():
            await party.close()


TWO_PARTY_JOB = """
job_id: {job_id}
initiator: {{role: guest, party_id: 9999}}
parties: {{guest: [9999], host: [10000]}}
timeout_s: {timeout}
components:
  - name: reader_0
    component: reader
    role_params:
      guest: {{table: demo.guest}}
      host: {{table: demo.host}}
  - name: stats_0
    component: column_stats
    inputs: {{data: reader_0.data}}
  - name: stats_1
    component: column_stats
    inputs: {{data: reader_0.data, previous: stats_0.model}}
"""


def two_party_job(job_id: str = "job_1", timeout: float = 60) -> str:
    return TWO_PARTY_JOB.format(job_id=job_id, timeout=timeout)
