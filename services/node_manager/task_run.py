"""One RunTask on this node: inputs in, the role function in a worker thread, outputs out.

The role function is synchronous and may block in ``recv``; it runs in its own daemon thread
so that the event loop keeps serving the bus. A timeout, a CancelTask or an expired compute
session ends the task at once: its federation is closed (interrupting a waiting ``recv``),
whatever the abandoned thread reports afterwards is ignored, and the final TaskEvent goes out.

A FAILED event says whether flow may retry the task (``TaskEvent.retryable``): true only for a
transient failure — a ``RetryableError`` (a bus outage, a timed-out request or ``recv``) or the
node-manager shutting down under the task. Everything else is permanent: bad input or parameters,
a component or crypto error, an internal error, and the task's own timeout or expired compute
session (both are the job's deadline, which another attempt cannot meet either).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.json_format import MessageToDict

from node_manager.binding import open_bound
from node_manager.cluster_client import ClusterClient
from node_manager.guarded_federation import GuardedFederation
from node_manager.metrics import NodeMetrics
from node_manager.reporter import TaskReporter
from node_manager.storage import TableStorage
from node_manager.tables import table_meta
from silobridge import components, topics
from silobridge.bus.base import MAX_MESSAGE_BYTES, Bus
from silobridge.components.registry import RoleFn, TaskResult
from silobridge.compute.base import ComputeBackend
from silobridge.disclosure import DisclosureLimits
from silobridge.errors import (
    InvalidInput,
    PayloadTooLarge,
    RetryableError,
    SilobridgeError,
    public_message,
)
from silobridge.federation import codec
from silobridge.federation.bus_transport import BusFederation
from silobridge.federation.context import DEFAULT_RECV_TIMEOUT_S, TaskContext
from silobridge.node.v1 import node_pb2 as pb
from silobridge.observability.logs import job_context
from silobridge.sources.lazy import SourceTable
from silobridge.table import Table

log = logging.getLogger(__name__)

TaskKey = tuple[str, str, int]
FINAL_STATES = (pb.TASK_STATE_SUCCEEDED, pb.TASK_STATE_FAILED, pb.TASK_STATE_CANCELLED)
STATE_NAMES = {
    pb.TASK_STATE_SUCCEEDED: "succeeded",
    pb.TASK_STATE_FAILED: "failed",
    pb.TASK_STATE_CANCELLED: "cancelled",
}


def task_key(job_id: str, task_name: str, attempt: int) -> TaskKey:
    return (job_id, task_name, int(attempt))


def is_transient(exc: BaseException) -> bool:
    """Whether another attempt of the task may succeed where this one failed."""
    return isinstance(exc, RetryableError)


@dataclass
class TaskEnv:
    """What every task run on this node shares."""

    bus: Bus
    node_id: str
    storage: TableStorage
    cluster: ClusterClient
    metrics: NodeMetrics
    slots: asyncio.Semaphore
    make_compute: Callable[[], ComputeBackend]
    default_timeout_s: float
    output_partitions: int
    recv_timeout_s: float = DEFAULT_RECV_TIMEOUT_S
    limits: DisclosureLimits = field(default_factory=DisclosureLimits)
    bind_allow: list[str] = field(default_factory=list)
    # Where env: secret references of bound tables are looked up (the node-manager's environment).
    environ: Mapping[str, str] = field(default_factory=dict)


def _ignore_outcome(fut: asyncio.Future[TaskResult]) -> None:
    """What an abandoned role function ends with is of no interest (and must not be logged)."""
    if not fut.cancelled():
        fut.exception()


class TaskRun:
    def __init__(self, cmd: pb.RunTask, env: TaskEnv, loop: asyncio.AbstractEventLoop) -> None:
        self.cmd = cmd
        self.env = env
        self.loop = loop
        self.key = task_key(cmd.job_id, cmd.task_name, cmd.attempt)
        self.state: pb.TaskState = pb.TASK_STATE_WAITING
        self.final: pb.TaskEvent | None = None
        self._stop = asyncio.Event()
        self._stop_state: pb.TaskState = pb.TASK_STATE_CANCELLED
        self._stop_message = ""
        self._stop_retryable = False
        self.reporter = TaskReporter(
            env.bus,
            loop,
            pb.TaskEvent(
                job_id=cmd.job_id,
                task_name=cmd.task_name,
                attempt=cmd.attempt,
                party_id=cmd.party_id,
                role=cmd.role,
                node_id=env.node_id,
            ),
        )

    @property
    def label(self) -> str:
        return f"{self.cmd.job_id}/{self.cmd.task_name}#{self.cmd.attempt}"

    def stop(self, state: pb.TaskState, message: str, *, retryable: bool = False) -> None:
        """End the task now (CancelTask, expired session, shutdown); the first reason wins.

        ``retryable`` marks a FAILED end that a new attempt elsewhere may get past (a shutdown).
        """
        if not self._stop.is_set():
            self._stop_state, self._stop_message = state, message
            self._stop_retryable = retryable and state == pb.TASK_STATE_FAILED
            self._stop.set()

    def _stopped_event(self) -> pb.TaskEvent:
        return self.reporter.event(
            self._stop_state, message=self._stop_message, retryable=self._stop_retryable
        )

    async def run(self) -> pb.TaskEvent:
        """Drive the task to its final state and publish it; never raises."""
        with job_context(self.cmd.job_id, self.cmd.task_name):
            started = time.monotonic()
            try:
                ev = await self._wait_for_slot_and_run()
            except Exception as exc:  # only our own bugs get here
                log.exception("task %s: node-manager error", self.label)
                ev = self.reporter.event(
                    pb.TASK_STATE_FAILED, message=f"node-manager error: {public_message(exc)}"
                )
            self.state = ev.state
            self.final = ev
            name = STATE_NAMES.get(ev.state, "failed")
            self.env.metrics.tasks.labels(name).inc()
            self.env.metrics.task_seconds.labels(name).observe(time.monotonic() - started)
            log.info("task %s %s: %s", self.label, name.upper(), ev.message or "ok", extra={"event": name})
            try:
                await self.reporter.publish(ev)
            except Exception:
                log.exception("task %s: could not publish its final event", self.label)
            return ev

    async def _wait_for_slot_and_run(self) -> pb.TaskEvent:
        if not self.env.slots.locked():
            await self.env.slots.acquire()  # free: returns at once, nothing can overtake us
            return await self._run_holding_slot()
        await self.reporter.publish(
            self.reporter.event(pb.TASK_STATE_WAITING, message="waiting for a free task slot")
        )
        acquire = asyncio.ensure_future(self.env.slots.acquire())
        stopper = asyncio.ensure_future(self._stop.wait())
        await asyncio.wait({acquire, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if not acquire.done():
            acquire.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await acquire
        if not acquire.done() or acquire.cancelled():
            return self._stopped_event()
        return await self._run_holding_slot()

    async def _run_holding_slot(self) -> pb.TaskEvent:
        try:
            if self._stop.is_set():
                return self._stopped_event()
            self.env.metrics.running.inc()
            try:
                return await self._execute()
            finally:
                self.env.metrics.running.dec()
        finally:
            self.env.slots.release()

    async def _execute(self) -> pb.TaskEvent:
        cmd = self.cmd
        self.state = pb.TASK_STATE_RUNNING
        await self.reporter.publish(self.reporter.event(pb.TASK_STATE_RUNNING))
        try:
            comp = components.get(cmd.component)
            fn = comp.roles.get(cmd.role)
            if fn is None:
                return self.reporter.event(
                    pb.TASK_STATE_SUCCEEDED, message=f"nothing to do for role {cmd.role}"
                )
            params = comp.validate(MessageToDict(cmd.params), where=f"{cmd.component} ({cmd.task_name})")
            inputs = await self._load_inputs()
            models = {name: codec.decode(value) for name, value in cmd.input_models.items()}
        except SilobridgeError as exc:
            return self.reporter.event(
                pb.TASK_STATE_FAILED, message=exc.public_message, retryable=is_transient(exc)
            )
        return await self._run_role(fn, params, inputs, models)

    async def _load_inputs(self) -> dict[str, Table]:
        """Stored tables load from this node's disk; bound ones open at their source (lazily)."""
        inputs: dict[str, Table] = {}
        for name, ref in self.cmd.input_tables.items():
            if self.env.storage.exists(ref.namespace, ref.name):
                inputs[name] = await asyncio.to_thread(self.env.storage.load, ref.namespace, ref.name)
                continue
            meta = await self.env.cluster.get_table_meta(ref.namespace, ref.name)
            if meta is None or not meta.HasField("source"):
                raise InvalidInput(
                    f"input {name!r}: table {ref.namespace}.{ref.name} is not stored on node {self.env.node_id}"
                )
            inputs[name] = await asyncio.to_thread(
                open_bound,
                meta,
                party_id=self.cmd.party_id,
                allow=self.env.bind_allow,
                environ=self.env.environ,
            )
        return inputs

    async def _run_role(
        self, fn: RoleFn, params: dict[str, Any], inputs: dict[str, Table], models: dict[str, Any]
    ) -> pb.TaskEvent:
        cmd = self.cmd
        session = topics.session_id(cmd.job_id, cmd.task_name, cmd.attempt)
        fed = BusFederation(self.env.bus, self.loop, party_id=cmd.party_id, role=cmd.role, session=session)
        guarded = GuardedFederation(fed)
        compute: ComputeBackend | None = None
        await fed.start()
        try:
            compute = await asyncio.to_thread(self.env.make_compute)
            ctx = TaskContext(
                job_id=cmd.job_id,
                task_name=cmd.task_name,
                party_id=cmd.party_id,
                role=cmd.role,
                parties={rp.role: list(rp.party_ids) for rp in cmd.parties},
                federation=guarded,
                compute=compute,
                params=params,
                inputs=inputs,
                input_models=models,
                attempt=cmd.attempt,
                recv_timeout_s=self.env.recv_timeout_s,
                limits=self.env.limits,
                metric_sink=self.reporter.metric_sink,
                progress_sink=self.reporter.progress_sink,
            )
            result_fut = self._start_thread(fn, ctx, compute)
            compute = None  # the thread closes it when the role function returns
            outcome = await self._first_of(result_fut, cmd.timeout_s or self.env.default_timeout_s)
            if outcome is not None:  # stopped or timed out: abandon the thread
                result_fut.add_done_callback(_ignore_outcome)
                guarded.cancel(outcome.message)
                self.reporter.mute()
                return outcome
            try:
                result = result_fut.result()
            except Exception as exc:
                return self.reporter.event(
                    pb.TASK_STATE_FAILED, message=self._failure(exc), retryable=is_transient(exc)
                )
            return await self._succeeded(result)
        finally:
            await fed.close()
            if compute is not None:
                await asyncio.to_thread(compute.close)

    def _start_thread(
        self, fn: RoleFn, ctx: TaskContext, compute: ComputeBackend
    ) -> asyncio.Future[TaskResult]:
        fut: asyncio.Future[TaskResult] = self.loop.create_future()
        context = contextvars.copy_context()
        loop = self.loop

        def settle(result: TaskResult | None, exc: BaseException | None) -> None:
            if fut.done():
                return
            if exc is not None:
                fut.set_exception(exc)
            else:
                fut.set_result(result)  # type: ignore[arg-type]

        def body() -> None:
            try:
                result = context.run(fn, ctx)
                outcome: tuple[TaskResult | None, BaseException | None] = (result, None)
            except BaseException as exc:
                outcome = (None, exc)
            finally:
                try:
                    compute.close()
                except Exception:
                    log.exception("task %s: closing its compute backend failed", self.label)
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits any more
                loop.call_soon_threadsafe(settle, *outcome)

        name = f"task-{self.cmd.job_id}-{self.cmd.task_name}-{self.cmd.attempt}"
        threading.Thread(target=body, name=name, daemon=True).start()
        return fut

    async def _first_of(
        self, result_fut: asyncio.Future[TaskResult], timeout_s: float
    ) -> pb.TaskEvent | None:
        """None when the role function finished; otherwise the final event of a stop/timeout."""
        stopper = asyncio.ensure_future(self._stop.wait())
        waiters: set[asyncio.Future[Any]] = {result_fut, stopper}
        try:
            done, _ = await asyncio.wait(waiters, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
        if result_fut in done:
            return None
        if self._stop.is_set():
            return self._stopped_event()
        return self.reporter.event(
            pb.TASK_STATE_FAILED, message=f"task {self.cmd.task_name} exceeded its timeout of {timeout_s:g}s"
        )

    def _failure(self, exc: BaseException) -> str:
        if isinstance(exc, SilobridgeError):
            message = exc.public_message
        else:
            message = (
                f"component {self.cmd.component} failed at role {self.cmd.role} with an internal error "
                f"({type(exc).__name__}); details are in the node-manager log"
            )
        log.error("task %s failed", self.label, exc_info=exc)
        return message

    async def _succeeded(self, result: TaskResult) -> pb.TaskEvent:
        cmd = self.cmd
        try:
            ev = self.reporter.event(pb.TASK_STATE_SUCCEEDED)
            ev.progress = 1.0
            namespace = cmd.output_namespace or cmd.job_id
            for output, table in result.tables.items():
                if isinstance(table, SourceTable):  # a bound table passed on whole: not copied
                    ev.output_tables[output].CopyFrom(pb.TableRef(namespace=table.ref[0], name=table.ref[1]))
                    continue
                name = f"{cmd.task_name}_{output}"
                await self._store_output(namespace, name, table)
                ev.output_tables[output].CopyFrom(pb.TableRef(namespace=namespace, name=name))
            if result.model is not None:
                ev.model.CopyFrom(codec.encode(result.model))
            for key, value in result.summary.items():
                ev.summary[str(key)] = float(value)
            size = ev.ByteSize()
            if size > MAX_MESSAGE_BYTES - 64 * 1024:
                raise PayloadTooLarge(
                    f"task {cmd.task_name} produced a model of {size} bytes, more than a TaskEvent can carry"
                )
            return ev
        except Exception as exc:
            return self.reporter.event(
                pb.TASK_STATE_FAILED, message=self._failure(exc), retryable=is_transient(exc)
            )

    async def _store_output(self, namespace: str, name: str, table: Table) -> None:
        storage = self.env.storage
        staging, rows = await asyncio.to_thread(
            storage.stage, namespace, name, table, self.env.output_partitions
        )
        try:
            await self.env.cluster.put_table_meta(table_meta(namespace, name, table, rows, self.env.node_id))
        except BaseException:
            await asyncio.to_thread(storage.discard, staging)
            raise
        await asyncio.to_thread(storage.commit, staging, namespace, name)
