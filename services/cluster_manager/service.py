"""The cluster-manager service: answers ``cluster.rpc`` and watches liveness and deadlines.

Every request gets a ``ClusterReply``; a failure is ``ClusterReply.error`` naming the problem,
never an unanswered request. Lost nodes and expired sessions are announced on
``cluster.events``. State lives in a :class:`~cluster_manager.store.ClusterStore`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable

from cluster_manager.allocation import choose_nodes, parse_table_name
from cluster_manager.bus_probe import BusProbe
from cluster_manager.metrics import ClusterMetrics
from cluster_manager.settings import ClusterManagerSettings
from cluster_manager.store import ClusterStore
from cluster_manager.store_factory import create_store
from silobridge import topics
from silobridge.bus.base import Bus, Subscription, check_word
from silobridge.bus.rpc import serve
from silobridge.cluster.v1 import cluster_pb2 as pb
from silobridge.errors import IntegrityError, InvalidInput, NotFound, RetryableError, SilobridgeError
from silobridge.observability.metrics import ServiceMetrics
from silobridge.service import Service, stop_background

log = logging.getLogger(__name__)

RPC_GROUP = "cluster-manager"
_SESSION_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,200}$")
MAX_COLUMNS = 100_000
MAX_PARTITIONS = 65_536

Clock = Callable[[], float]


class ClusterManagerService(Service):
    """``ClusterManagerService(settings, bus, metrics)``; ``store``/``clock`` are injectable for tests."""

    name = "cluster-manager"
    settings: ClusterManagerSettings

    def __init__(
        self,
        settings: ClusterManagerSettings,
        bus: Bus,
        metrics: ServiceMetrics,
        *,
        store: ClusterStore | None = None,
        clock: Clock = time.time,
    ) -> None:
        super().__init__(settings, bus, metrics)
        self.store = store if store is not None else create_store(settings)
        self.clock = clock
        self.own = ClusterMetrics(metrics.registry)
        self._sub: Subscription | None = None
        self._watch: asyncio.Task[None] | None = None
        self._started_at = clock()
        self.probe = BusProbe(bus, clock, settings.heartbeat_interval_s)

    # ----- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        # Nodes could not heartbeat while we were down: their silence counts from now.
        self._started_at = self.clock()
        self._refresh_gauges()
        self._sub = await serve(self.bus, topics.CLUSTER_RPC, self.handle, group=RPC_GROUP)
        await self.probe.start()
        self._watch = asyncio.get_running_loop().create_task(self._watch_loop(), name="cluster-watch")
        self._ready = True

    async def stop(self) -> None:
        self._ready = False
        if self._sub is not None:
            await self._sub.cancel()
            self._sub = None
        await stop_background(self._watch)
        self._watch = None
        await self.probe.stop()
        self.store.close()

    async def _watch_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.check_interval_s)
            try:
                await self.check_liveness()
                await self.expire_sessions()
            except Exception:
                log.exception("liveness/deadline check failed")
                self.metrics.error("cluster_watch")

    # ----- request dispatch ----------------------------------------------------------------
    async def handle(self, body: bytes) -> bytes:
        """One ClusterRequest in, one ClusterReply out; never raises."""
        kind = "malformed"
        try:
            req = pb.ClusterRequest()
            try:
                req.ParseFromString(body)
            except Exception:
                raise IntegrityError("cluster.rpc request is not a valid ClusterRequest message") from None
            kind = req.WhichOneof("request") or "empty"
            reply = await self._dispatch(req, kind)
            self.own.requests.labels(kind, "ok").inc()
        except SilobridgeError as exc:
            self.own.requests.labels(kind, exc.code).inc()
            log.info("cluster request %s refused: %s", kind, exc)
            reply = pb.ClusterReply(
                error=pb.Error(code=exc.code, message=exc.public_message, retryable=exc.retryable)
            )
        except Exception:
            self.own.requests.labels(kind, "internal").inc()
            self.metrics.error("cluster_rpc")
            log.exception("cluster request %s failed", kind)
            reply = pb.ClusterReply(
                error=pb.Error(
                    code="internal", message=f"cluster-manager failed to handle {kind}", retryable=True
                )
            )
        return reply.SerializeToString()

    async def _dispatch(self, req: pb.ClusterRequest, kind: str) -> pb.ClusterReply:
        if kind == "register_node":
            return pb.ClusterReply(node=self.register_node(req.register_node.node))
        if kind == "heartbeat":
            return pb.ClusterReply(node=self.heartbeat(req.heartbeat))
        if kind == "allocate_session":
            return pb.ClusterReply(session=await self.allocate_session(req.allocate_session))
        if kind == "release_session":
            self.release_session(req.release_session.session_id)
            return pb.ClusterReply(ok=True)
        if kind == "put_table_meta":
            return pb.ClusterReply(table=self.put_table_meta(req.put_table_meta))
        if kind == "delete_table_meta":
            self.delete_table_meta(req.delete_table_meta.namespace, req.delete_table_meta.name)
            return pb.ClusterReply(ok=True)
        if kind == "get_table_meta":
            return pb.ClusterReply(
                table=self.get_table_meta(req.get_table_meta.namespace, req.get_table_meta.name)
            )
        if kind == "list_tables":
            ns = req.list_tables.namespace
            if ns:
                check_word(ns, "namespace")
            return pb.ClusterReply(tables=pb.TableList(tables=self.store.list_tables(ns)))
        if kind == "list_nodes":
            return pb.ClusterReply(nodes=pb.NodeList(nodes=self.store.list_nodes()))
        raise InvalidInput("ClusterRequest carries no request (set one field of the oneof)")

    # ----- nodes ---------------------------------------------------------------------------
    def register_node(self, info: pb.NodeInfo) -> pb.NodeInfo:
        if not info.node_id:
            raise InvalidInput("RegisterNode needs a node_id")
        check_word(info.node_id, "node id")
        node = pb.NodeInfo()
        node.CopyFrom(info)
        node.state = pb.NODE_STATE_ALIVE
        node.last_heartbeat_unix = self.clock()
        previous = self.store.get_node(node.node_id)
        self.store.put_node(node)
        log.info(
            "node %s %s (%d cpus)",
            node.node_id,
            "re-registered" if previous is not None else "registered",
            node.cpus,
            extra={"peer": node.node_id},
        )
        self._refresh_gauges()
        return node

    def heartbeat(self, hb: pb.Heartbeat) -> pb.NodeInfo:
        node = self.store.get_node(hb.node_id)
        if node is None:
            raise NotFound(f"node {hb.node_id!r} is not registered: register it first")
        if node.state == pb.NODE_STATE_LOST:
            log.info(
                "node %s is back (heartbeat after being LOST)", node.node_id, extra={"peer": node.node_id}
            )
        node.state = pb.NODE_STATE_ALIVE
        node.running_tasks = hb.running_tasks
        node.last_heartbeat_unix = self.clock()
        self.store.put_node(node)
        self._refresh_gauges()
        return node

    async def check_liveness(self) -> list[pb.NodeInfo]:
        """Mark nodes silent for ``lost_after_missed`` intervals LOST; announce each once."""
        now = self.clock()
        limit = self.settings.lost_after_missed * self.settings.heartbeat_interval_s
        silent = [
            n
            for n in self.store.list_nodes()
            if n.state == pb.NODE_STATE_ALIVE and self._silent(n, now, limit)
        ]
        # Silence proves nothing while our own broker is down: confirm it carries messages now.
        if not silent or self.probe.failing or not await self.probe.round_trip():
            return []
        lost: list[pb.NodeInfo] = []
        for node in silent:
            if not self._silent(node, now, limit):  # the round trip took long enough to see the outage
                continue
            node.state = pb.NODE_STATE_LOST
            self.store.put_node(node)
            lost.append(node)
            self.own.nodes_lost.inc()
            log.warning(
                "node %s lost: no heartbeat for %.1fs",
                node.node_id,
                now - node.last_heartbeat_unix,
                extra={"peer": node.node_id, "event": "node_lost"},
            )
            await self.bus.publish(topics.CLUSTER_EVENTS, pb.ClusterEvent(node_lost=node).SerializeToString())
        if lost:
            self._refresh_gauges()
        return lost

    def _silent(self, node: pb.NodeInfo, now: float, limit: float) -> bool:
        since = max(node.last_heartbeat_unix, self._started_at)
        if self.probe.ok_since > since:  # the broker was down after this node's last heartbeat
            since, limit = self.probe.ok_since, max(limit, self.settings.bus_recovery_grace_s)
        return now - since > limit

    # ----- sessions ------------------------------------------------------------------------
    async def allocate_session(self, req: pb.AllocateSession) -> pb.ComputeSession:
        if not _SESSION_ID.match(req.session_id):
            raise InvalidInput(f"invalid session_id {req.session_id!r}: 1-200 characters of [A-Za-z0-9_.-]")
        if req.timeout_s < 0 or req.timeout_s > self.settings.max_session_timeout_s:
            raise InvalidInput(
                f"session timeout_s {req.timeout_s:g} is outside 0..{self.settings.max_session_timeout_s:g}"
            )
        await self.expire_sessions()
        existing = self.store.get_session(req.session_id)
        if existing is not None:
            return existing  # idempotent: a retried allocation gets the same nodes
        preferred = []
        for qualified in req.prefer_tables:
            namespace, name = parse_table_name(qualified)
            meta = self.store.get_table(namespace, name)
            if meta is None:
                log.info("session %s prefers unknown table %s", req.session_id, qualified)
            else:
                preferred.append(meta)
        alive = [n for n in self.store.list_nodes() if n.state == pb.NODE_STATE_ALIVE]
        node_ids = choose_nodes(alive, self.store.list_sessions(), preferred)
        if not node_ids:
            raise RetryableError(
                f"no alive node-manager to run session {req.session_id}: none registered or all lost",
                delay_s=2.0,
            )
        timeout = req.timeout_s or self.settings.default_session_timeout_s
        session = pb.ComputeSession(
            session_id=req.session_id,
            node_ids=node_ids,
            deadline_unix=self.clock() + timeout,
            cpus=max(1, req.cpus),
        )
        self.store.put_session(session)
        self.own.sessions.set(len(self.store.list_sessions()))
        log.info("session %s allocated on %s for %.0fs", req.session_id, ",".join(node_ids), timeout)
        return session

    def release_session(self, session_id: str) -> None:
        """Idempotent: releasing an unknown or already released session is fine."""
        if self.store.delete_session(session_id):
            log.info("session %s released", session_id)
        self.own.sessions.set(len(self.store.list_sessions()))

    async def expire_sessions(self) -> list[pb.ComputeSession]:
        """Kill sessions past their deadline: announce ``session_expired``, then release."""
        now = self.clock()
        expired = [s for s in self.store.list_sessions() if s.deadline_unix <= now]
        for session in expired:
            log.warning(
                "session %s expired at its deadline", session.session_id, extra={"event": "session_expired"}
            )
            await self.bus.publish(
                topics.CLUSTER_EVENTS, pb.ClusterEvent(session_expired=session).SerializeToString()
            )
            self.store.delete_session(session.session_id)
            self.own.sessions_expired.inc()
        if expired:
            self.own.sessions.set(len(self.store.list_sessions()))
        return expired

    # ----- tables --------------------------------------------------------------------------
    def put_table_meta(self, meta: pb.TableMeta) -> pb.TableMeta:
        """Create or replace a table's metadata (removing one is ``delete_table_meta``)."""
        check_word(meta.namespace, "table namespace")
        check_word(meta.name, "table name")
        if not meta.partitions:
            raise InvalidInput(
                f"table {meta.namespace}.{meta.name} metadata lists no partitions "
                "(a table is removed with DeleteTableMeta)"
            )
        if len(meta.columns) > MAX_COLUMNS or len(meta.partitions) > MAX_PARTITIONS:
            raise InvalidInput(f"table {meta.namespace}.{meta.name} metadata is too large")
        indexes = [p.index for p in meta.partitions]
        if len(set(indexes)) != len(indexes):
            raise InvalidInput(f"table {meta.namespace}.{meta.name} lists partition {indexes} twice")
        for part in meta.partitions:
            check_word(part.node_id, "partition node id")
        out = pb.TableMeta()
        out.CopyFrom(meta)
        out.rows = meta.rows or sum(p.rows for p in meta.partitions)
        if not out.created_unix:
            out.created_unix = self.clock()
        self.store.put_table(out)
        log.info(
            "table %s.%s: %d rows in %d partitions", out.namespace, out.name, out.rows, len(out.partitions)
        )
        return out

    def delete_table_meta(self, namespace: str, name: str) -> None:
        """Forget a table; ``NotFound`` when it is unknown, so a caller can tell (and ignore) that."""
        check_word(namespace, "table namespace")
        check_word(name, "table name")
        if not self.store.delete_table(namespace, name):
            raise NotFound(f"table {namespace}.{name} is not known to this party's cluster-manager")
        log.info("table %s.%s removed", namespace, name)

    def get_table_meta(self, namespace: str, name: str) -> pb.TableMeta:
        meta = self.store.get_table(namespace, name)
        if meta is None:
            raise NotFound(f"table {namespace}.{name} is not known to this party's cluster-manager")
        return meta

    # ----- gauges --------------------------------------------------------------------------
    def _refresh_gauges(self) -> None:
        nodes = self.store.list_nodes()
        alive = sum(1 for n in nodes if n.state == pb.NODE_STATE_ALIVE)
        self.own.nodes.labels("alive").set(alive)
        self.own.nodes.labels("lost").set(len(nodes) - alive)
        self.own.sessions.set(len(self.store.list_sessions()))
