"""``FlowService``: wires the store, the cluster client, the coordinator and the REST API.

Bus interactions: consumes ``flow.control`` (group ``flow-control``), ``flow.events``
(group ``flow-events``) and ``cluster.events`` (group ``flow-cluster-events``); publishes on
``router.outbound``, ``router.jobs`` (the jobs whose sessions the router admits), ``node.<id>.cmd`` and requests on
``cluster.rpc`` (replies on a private ``reply.flow.*`` topic).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path

from starlette.routing import BaseRoute, Mount

from flow import jobspec
from flow.admission import READMIT_INTERVAL_S, RouterAdmissions
from flow.api import build_api
from flow.auth import ensure_bootstrap
from flow.cluster_client import ClusterClient
from flow.control import ControlChannel, parse_control
from flow.coordinator import Coordinator, watchdog
from flow.liveness import PeerLiveness, heartbeats
from flow.metrics import FlowMetrics
from flow.settings import FlowSettings
from flow.sql_store import SqlJobStore
from flow.states import ACCEPTED, RUNNING
from flow.store import JobStore
from silobridge import topics
from silobridge.bus.base import Bus, Message, Subscription
from silobridge.bus.dedup import Deduplicator
from silobridge.cluster.v1 import cluster_pb2
from silobridge.errors import IntegrityError
from silobridge.node.v1 import node_pb2
from silobridge.observability.metrics import ServiceMetrics
from silobridge.service import Service, stop_background, stop_consuming

log = logging.getLogger(__name__)

CONTROL_GROUP = "flow-control"
EVENTS_GROUP = "flow-events"
CLUSTER_EVENTS_GROUP = "flow-cluster-events"


class FlowService(Service):
    name = "flow"

    def __init__(
        self, settings: FlowSettings, bus: Bus, metrics: ServiceMetrics, *, store: JobStore | None = None
    ) -> None:
        super().__init__(settings, bus, metrics)
        self.settings: FlowSettings = settings
        self.flow_metrics = FlowMetrics(metrics.registry)
        self.rules = jobspec.SpecRules(
            self_party=settings.party_id,
            known_parties=settings.live_parties(),
            default_timeout_s=settings.default_job_timeout_s,
            max_timeout_s=settings.max_job_timeout_s,
            max_yaml_bytes=settings.max_job_yaml_bytes,
        )
        self._store = store
        self._cluster = ClusterClient(
            bus,
            timeout_s=settings.rpc_timeout_s,
            upload_timeout_s=settings.upload_timeout_s,
            retry_window_s=settings.rpc_retry_window_s,
        )
        self._coordinator: Coordinator | None = None
        self._subs: list[Subscription] = []
        self._watchdog: asyncio.Task[None] | None = None
        self.liveness: PeerLiveness | None = None
        self._heartbeats: asyncio.Task[None] | None = None
        self._readmit: asyncio.Task[None] | None = None
        # A redelivered node_lost must not fail a later attempt that runs on the node once it is back.
        self._cluster_events_seen = Deduplicator(capacity=10_000)
        # Where start() wrote a new admin token (first start without SILOBRIDGE_ADMIN_TOKEN_FILE).
        self.bootstrap_token_file: Path | None = None
        # Built now so that routes() works before start(); its dependencies are looked up per request.
        self._app = build_api(self)

    @property
    def cluster(self) -> ClusterClient:
        return self._cluster

    @property
    def store(self) -> JobStore:
        if self._store is None:
            self._store = SqlJobStore(
                self.settings.resolved_db_url(), table_prefix=self.settings.db_table_prefix
            )
        return self._store

    @property
    def coordinator(self) -> Coordinator:
        if self._coordinator is None:
            self._coordinator = Coordinator(
                self.settings,
                self.store,
                self.cluster,
                ControlChannel(self.bus, self.settings.party_id),
                self.flow_metrics,
                self.rules,
                admissions=RouterAdmissions(self.bus),
            )
        return self._coordinator

    async def start(self) -> None:
        coordinator = self.coordinator
        coordinator.governance.load()  # a bad policy file stops flow here, before any proposal
        self.bootstrap_token_file = ensure_bootstrap(
            coordinator.governance, self.settings.data_dir, self.settings.admin_token_file
        )
        await self.cluster.start()
        await coordinator.recover()
        await self._admit_running_jobs(coordinator)
        self._subs.append(
            await self.bus.subscribe(topics.FLOW_CONTROL, self._on_control, group=CONTROL_GROUP)
        )
        self._subs.append(await self.bus.subscribe(topics.FLOW_EVENTS, self._on_event, group=EVENTS_GROUP))
        self._subs.append(
            await self.bus.subscribe(
                topics.CLUSTER_EVENTS, self._on_cluster_event, group=CLUSTER_EVENTS_GROUP
            )
        )
        self._watchdog = asyncio.get_running_loop().create_task(
            watchdog(coordinator, self.settings.watchdog_interval_s), name="flow-watchdog"
        )
        self.liveness = PeerLiveness(
            party=self.settings.party_id,
            interval_s=self.settings.peer_heartbeat_interval_s,
            grace_s=self.settings.peer_liveness_grace_s,
            store=self.store,
            control=ControlChannel(self.bus, self.settings.party_id),
            metrics=self.flow_metrics,
            fail_job=coordinator.fail_running,
        )
        self._heartbeats = asyncio.get_running_loop().create_task(
            heartbeats(self.liveness), name="flow-heartbeats"
        )
        self._readmit = asyncio.get_running_loop().create_task(
            self._readmit_forever(coordinator), name="flow-router-readmit"
        )
        self._ready = True

    async def _admit_running_jobs(self, coordinator: Coordinator) -> None:
        """Repeat OPEN for the jobs still open here (a router that lost its record relearns them)."""
        if coordinator.admissions is None:
            return
        jobs = self.store.list_jobs(limit=10_000, states=(ACCEPTED, RUNNING))
        coordinator.admissions.repeat({job.job_id: job.state for job in jobs})
        await coordinator.admissions.flush()

    async def _readmit_forever(self, coordinator: Coordinator) -> None:
        while True:
            await asyncio.sleep(READMIT_INTERVAL_S)
            try:
                await self._admit_running_jobs(coordinator)
            except Exception as exc:  # the bus is down: try again next time
                log.warning("cannot repeat the open jobs to the router: %s", exc)

    async def stop(self) -> None:
        self._ready = False
        await stop_consuming(self._subs)
        await stop_background(self._watchdog)
        await stop_background(self._heartbeats)
        await stop_background(self._readmit)
        self._watchdog = self._heartbeats = self._readmit = None
        if self._coordinator is not None:
            await self._coordinator.close()
            if self._coordinator.admissions is not None:
                await self._coordinator.admissions.close()
        await self.cluster.close()
        if self._store is not None:
            self._store.close()
            self._store = None
            self._coordinator = None

    def routes(self) -> Sequence[BaseRoute]:
        return [Mount("/", app=self._app)]

    @property
    def app(self) -> object:
        """The REST API as an ASGI app (tests drive it with httpx's ASGITransport)."""
        return self._app

    async def _on_control(self, msg: Message) -> None:
        sender, control, message_id = parse_control(msg.body)
        if control.WhichOneof("command") == "heartbeat":  # no job state: not applied by message id
            if self.liveness is not None:
                self.liveness.on_heartbeat(sender, control.heartbeat)
            return
        await self.coordinator.on_control(sender, control, message_id)

    async def _on_event(self, msg: Message) -> None:
        event = node_pb2.TaskEvent()
        try:
            event.ParseFromString(msg.body)
        except Exception:
            raise IntegrityError("malformed TaskEvent on flow.events") from None
        await self.coordinator.scheduler.on_event(event)

    async def _on_cluster_event(self, msg: Message) -> None:
        """``node_lost`` / ``session_expired``: fail the task runs the cluster says are gone."""
        if self._cluster_events_seen.seen(msg.message_id):
            return
        event = cluster_pb2.ClusterEvent()
        try:
            event.ParseFromString(msg.body)
        except Exception:
            raise IntegrityError("malformed ClusterEvent on cluster.events") from None
        kind = event.WhichOneof("event")
        if kind == "node_lost":
            await self.coordinator.scheduler.on_node_lost(event.node_lost.node_id)
        elif kind == "session_expired":
            await self.coordinator.scheduler.on_session_expired(event.session_expired.session_id)
        self._cluster_events_seen.mark(msg.message_id)
