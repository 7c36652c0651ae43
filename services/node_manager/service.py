"""The node-manager service: keeps itself registered, stores tables, runs and cancels tasks.

Bus contract (see docs/compute-plane.md):

* ``node.<node_id>.cmd`` carries ``NodeCommand``, served with ``silobridge.bus.rpc.serve``. When
  the sender sets the rpc reply-to headers, every command is answered with a ``ClusterReply``:
  StoreTable and BindTable -> ``table`` (the registered TableMeta), UploadChunk -> ``ok`` (the
  last piece: ``table``), DeleteTable -> ``ok`` (metadata removed with ``DeleteTableMeta``, then
  the files; all four in ``table_commands``), RunTask and CancelTask -> ``ok`` (accepted; the
  outcome arrives as TaskEvents), any failure -> ``error``.
  Without reply-to headers a command is fire-and-forget.
* ``flow.events`` receives the ``TaskEvent`` of every task: WAITING (only when no slot is free),
  RUNNING (start, then progress/metrics at most twice a second), then exactly one of
  SUCCEEDED / FAILED (``retryable`` when transient, see ``task_run``) / CANCELLED.
* ``cluster.events``: a ``session_expired`` fails the tasks of that compute session.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections import OrderedDict
from collections.abc import Coroutine
from typing import Any

from node_manager.cluster_client import ClusterClient
from node_manager.metrics import NodeMetrics
from node_manager.settings import NodeManagerSettings
from node_manager.storage import TableStorage
from node_manager.table_commands import TableCommands
from node_manager.task_run import TaskEnv, TaskKey, TaskRun, task_key
from node_manager.uploads import UploadSpool
from silobridge import topics
from silobridge.bus.base import Bus, Message, Subscription, check_word
from silobridge.bus.rpc import serve
from silobridge.cluster.v1 import cluster_pb2 as cpb
from silobridge.compute.base import ComputeBackend
from silobridge.compute.factory import create_compute
from silobridge.compute.placement import TASK_RESOURCE_SHARE, node_resource
from silobridge.errors import (
    IntegrityError,
    InvalidInput,
    NotFound,
    RequestTimeout,
    RetryableError,
    SilobridgeError,
)
from silobridge.node.v1 import node_pb2 as pb
from silobridge.observability.metrics import ServiceMetrics
from silobridge.service import Service, stop_background, stop_consuming

log = logging.getLogger(__name__)

KEEP_FINISHED = 10_000  # finished tasks remembered for RunTask idempotency
REGISTER_BACKOFF_MAX_S = 5.0


def _memory_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


class NodeManagerService(Service):
    name = "node-manager"
    settings: NodeManagerSettings

    def __init__(self, settings: NodeManagerSettings, bus: Bus, metrics: ServiceMetrics) -> None:
        super().__init__(settings, bus, metrics)
        self.node_id = settings.node_id
        self.own = NodeMetrics(metrics.registry)
        self.storage = TableStorage(settings.data_dir / "tables")
        self.uploads = UploadSpool(settings.data_dir / "uploads", settings.max_upload_bytes)
        self.cluster = ClusterClient(
            bus,
            f"node-{self.node_id}",
            timeout_s=settings.rpc_timeout_s,
            retry_window_s=settings.rpc_retry_window_s,
        )
        self.tables = TableCommands(
            node_id=self.node_id,
            storage=self.storage,
            uploads=self.uploads,
            cluster=self.cluster,
            metrics=self.own,
            default_partitions=settings.default_partitions,
            bind_allow=list(settings.bind_allow),
        )
        self.tasks: OrderedDict[TaskKey, TaskRun] = OrderedDict()
        self._cancelled_early: OrderedDict[TaskKey, str] = OrderedDict()
        self._runners: set[asyncio.Task[Any]] = set()
        self._subs: list[Subscription] = []
        self._membership: asyncio.Task[None] | None = None
        self._env: TaskEnv | None = None
        self.registered = asyncio.Event()

    # ----- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        await asyncio.to_thread(self.uploads.clear)  # pieces of uploads that never finished
        self._env = TaskEnv(
            bus=self.bus,
            node_id=self.node_id,
            storage=self.storage,
            cluster=self.cluster,
            metrics=self.own,
            slots=asyncio.Semaphore(self.settings.max_concurrent_tasks),
            make_compute=self._make_compute,
            default_timeout_s=self.settings.task_default_timeout_s,
            recv_timeout_s=self.settings.task_recv_timeout_s,
            output_partitions=self.settings.default_partitions,
            limits=self.settings.disclosure_limits,
            bind_allow=list(self.settings.bind_allow),
            environ=os.environ,
        )
        await self.cluster.start()
        self._subs.append(
            await serve(
                self.bus, topics.node_cmd(self.node_id), self.handle_command, group=f"node-{self.node_id}"
            )
        )
        self._subs.append(
            await self.bus.subscribe(
                topics.CLUSTER_EVENTS,
                self._on_cluster_event,
                group=f"node-{self.node_id}-cluster-events",
                durable=False,
            )
        )
        self._membership = asyncio.get_running_loop().create_task(
            self._keep_membership(), name="node-membership"
        )
        self._ready = True

    async def stop(self) -> None:
        """Stop taking commands, end running tasks (FAILED: they can be retried), close."""
        self._ready = False
        await stop_consuming(self._subs)
        await stop_background(self._membership)
        self._membership = None
        for run in self.tasks.values():
            run.stop(
                pb.TASK_STATE_FAILED,
                f"node-manager {self.node_id} stopped while the task ran",
                retryable=True,
            )
        if self._runners:
            await asyncio.wait(set(self._runners), timeout=10)
        await self.cluster.close()

    def ready(self) -> bool:
        return self._ready and self.registered.is_set()

    def node_info(self) -> cpb.NodeInfo:
        return cpb.NodeInfo(
            node_id=self.node_id,
            host=socket.gethostname(),
            cpus=os.cpu_count() or 1,
            memory_bytes=_memory_bytes(),
            running_tasks=self.running_tasks(),
            ray_address=self.settings.ray_address,
        )

    def running_tasks(self) -> int:
        return sum(1 for r in self.tasks.values() if r.final is None)

    def _make_compute(self) -> ComputeBackend:
        s = self.settings
        if s.compute_backend == "ray":
            # One custom resource per node-manager, so partition work can be placed where the data is.
            return create_compute(
                "ray",
                address=s.ray_address,
                temp_dir=s.ray_temp_dir or None,
                resources={node_resource(self.node_id): TASK_RESOURCE_SHARE},
            )
        return create_compute(s.compute_backend, workers=s.compute_workers or None)

    # ----- membership ----------------------------------------------------------------------
    async def _keep_membership(self) -> None:
        await self._register_until_answered()
        while True:
            await asyncio.sleep(self.settings.heartbeat_interval_s)
            try:
                await self.cluster.heartbeat(self.node_id, self.running_tasks())
            except NotFound:
                log.warning("cluster-manager does not know node %s: registering again", self.node_id)
                await self._register_until_answered()
            except (RequestTimeout, RetryableError) as exc:
                log.warning("heartbeat not answered: %s", exc)
            except SilobridgeError as exc:
                log.error("heartbeat refused: %s", exc)

    async def _register_until_answered(self) -> None:
        delay = 0.1
        while True:
            try:
                await self.cluster.register(self.node_info())
                log.info("node %s registered with the cluster-manager", self.node_id)
                self.registered.set()
                return
            except SilobridgeError as exc:
                log.warning(
                    "registration of node %s failed (%s); retrying in %.1fs", self.node_id, exc, delay
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, REGISTER_BACKOFF_MAX_S)

    async def _on_cluster_event(self, msg: Message) -> None:
        event = cpb.ClusterEvent()
        try:
            event.ParseFromString(msg.body)
        except Exception:
            raise IntegrityError("malformed ClusterEvent on cluster.events") from None
        if event.WhichOneof("event") != "session_expired":
            return
        session = event.session_expired.session_id
        for run in self.tasks.values():
            if run.final is None and run.cmd.compute_session == session:
                run.stop(
                    pb.TASK_STATE_FAILED,
                    f"compute session {session} expired: task {run.cmd.task_name} ran past its deadline",
                )

    # ----- commands ------------------------------------------------------------------------
    async def handle_command(self, body: bytes) -> bytes:
        """One NodeCommand in, one ClusterReply out (sent only when the caller asked for it)."""
        kind = "malformed"
        try:
            cmd = pb.NodeCommand()
            try:
                cmd.ParseFromString(body)
            except Exception:
                raise IntegrityError("node command is not a valid NodeCommand message") from None
            kind = cmd.WhichOneof("command") or "empty"
            if kind == "store_table":
                return cpb.ClusterReply(table=await self.tables.store(cmd.store_table)).SerializeToString()
            if kind == "bind_table":
                return cpb.ClusterReply(table=await self.tables.bind(cmd.bind_table)).SerializeToString()
            if kind == "upload_chunk":
                meta = await self.tables.upload_chunk(cmd.upload_chunk)
                reply = cpb.ClusterReply(ok=True) if meta is None else cpb.ClusterReply(table=meta)
                return reply.SerializeToString()
            if kind == "read_table":
                data = await self.tables.read(cmd.read_table.table, party_id=self.settings.party_id)
                return cpb.ClusterReply(table_data=data).SerializeToString()
            if kind == "delete_table":
                await self.tables.delete(cmd.delete_table.table)
            elif kind == "run_task":
                self.submit(cmd.run_task)
            elif kind == "cancel_task":
                c = cmd.cancel_task
                self.cancel(task_key(c.job_id, c.task_name, c.attempt), c.reason)
            else:
                raise InvalidInput("NodeCommand carries no command (set one field of the oneof)")
            return cpb.ClusterReply(ok=True).SerializeToString()
        except SilobridgeError as exc:
            log.warning("node command %s refused: %s", kind, exc)
            err = cpb.Error(code=exc.code, message=exc.public_message, retryable=exc.retryable)
        except Exception:
            log.exception("node command %s failed", kind)
            self.metrics.error("node_command")
            err = cpb.Error(
                code="internal", message=f"node {self.node_id} failed to handle {kind}", retryable=True
            )
        return cpb.ClusterReply(error=err).SerializeToString()

    def submit(self, cmd: pb.RunTask) -> TaskRun:
        """Start a task unless this (job, task, attempt) is already known (redelivery)."""
        check_word(cmd.job_id, "job id")
        check_word(cmd.task_name, "task name")
        if cmd.role not in ("guest", "host", "arbiter"):
            raise InvalidInput(f"RunTask {cmd.job_id}/{cmd.task_name}: unknown role {cmd.role!r}")
        if not cmd.component:
            raise InvalidInput(f"RunTask {cmd.job_id}/{cmd.task_name} names no component")
        key = task_key(cmd.job_id, cmd.task_name, cmd.attempt)
        existing = self.tasks.get(key)
        if existing is not None:
            log.info("RunTask %s already known (%s): not starting it again", existing.label, existing.state)
            if existing.final is not None:  # the final event may have been lost: say it again
                self._spawn(existing.reporter.publish(existing.final))
            return existing
        assert self._env is not None, "node-manager not started"
        run = TaskRun(cmd, self._env, asyncio.get_running_loop())
        self.tasks[key] = run
        early = self._cancelled_early.pop(key, None)
        if early is not None:
            run.stop(pb.TASK_STATE_CANCELLED, early)
        self._spawn(run.run())
        self._forget_old()
        return run

    def cancel(self, key: TaskKey, reason: str) -> None:
        message = f"task {key[1]} cancelled" + (f": {reason}" if reason else "")
        run = self.tasks.get(key)
        if run is None:
            # CancelTask overtook its RunTask: the RunTask will end CANCELLED at once.
            self._cancelled_early[key] = message
            while len(self._cancelled_early) > KEEP_FINISHED:
                self._cancelled_early.popitem(last=False)
            return
        run.stop(pb.TASK_STATE_CANCELLED, message)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._runners.add(task)
        task.add_done_callback(self._runners.discard)

    def _forget_old(self) -> None:
        if len(self.tasks) <= KEEP_FINISHED:
            return
        for key in [k for k, r in self.tasks.items() if r.final is not None][
            : len(self.tasks) - KEEP_FINISHED
        ]:
            del self.tasks[key]
