"""Runs this party's tasks of a RUNNING job in DAG order.

For a task whose upstream tasks (at this party) succeeded: resolve its inputs, check its tables
with ``GetTableMeta``, ``AllocateSession`` -> ``RunTask`` on ``node.<node_id>.cmd``, follow the
node's ``TaskEvent`` s on ``flow.events``, ``ReleaseSession`` when it ends. Every task state change
is reported to the coordinator (``on_change``), which tells the initiator. The cluster-manager's
``node_lost`` / ``session_expired`` end a run the node can no longer report on.

Locking: one ``asyncio.Lock`` per job serialises every change to that job; methods named
``locked_*`` expect the caller to hold it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from flow import jobspec, task_log
from flow.cluster_client import ClusterClient
from flow.metrics import FlowMetrics
from flow.settings import FlowSettings
from flow.states import CANCELLED, FAILED, RUNNING, SUCCEEDED, TASK_FINAL, WAITING, task_state_name
from flow.store import JobStore, MetricRecord, TaskRecord
from silobridge import topics
from silobridge.errors import PermanentError, RetryableError, SilobridgeError, public_message
from silobridge.federation.v1 import values_pb2
from silobridge.flow.v1 import flow_pb2
from silobridge.node.v1 import node_pb2
from silobridge.observability.logs import job_context

log = logging.getLogger(__name__)

OnChange = Callable[[str], Awaitable[None]]
# A SUCCEEDED run's outcome checked against this party's limits: a message fails the task instead.
CheckOutcome = Callable[[TaskRecord, node_pb2.TaskEvent], str | None]


class JobLocks:
    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}

    def __call__(self, job_id: str) -> asyncio.Lock:
        return self._locks.setdefault(job_id, asyncio.Lock())

    def forget(self, job_id: str) -> None:
        lock = self._locks.get(job_id)
        if lock is not None and not lock.locked():
            self._locks.pop(job_id, None)


def load_spec(data: bytes) -> flow_pb2.JobSpec:
    spec = flow_pb2.JobSpec()
    spec.ParseFromString(data)
    return spec


class Scheduler:
    def __init__(
        self,
        settings: FlowSettings,
        store: JobStore,
        cluster: ClusterClient,
        metrics: FlowMetrics,
        locks: JobLocks,
        on_change: OnChange,
        check_outcome: CheckOutcome | None = None,
    ) -> None:
        self.party = settings.party_id
        self._settings = settings
        self._store = store
        self._cluster = cluster
        self._metrics = metrics
        self._lock = locks
        self._on_change = on_change
        self._check_outcome = check_outcome or (lambda task, event: None)
        self._launching: set[tuple[str, str]] = set()
        self._background: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def close(self) -> None:
        tasks = list(self._background)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # ----- starting tasks -----------------------------------------------------------------------
    def locked_advance(self, job_id: str) -> None:
        """Start every waiting task of this party whose upstream tasks here have succeeded."""
        job = self._store.get_job(job_id)
        if job is None or job.state != RUNNING:
            return
        spec = load_spec(job.spec)
        tasks = {t.task_name: t for t in self._store.list_tasks(job_id, self.party)}
        for comp in spec.components:
            task = tasks.get(comp.name)
            if task is None or task.state != WAITING or (job_id, comp.name) in self._launching:
                continue
            ups = [u for u in jobspec.upstreams(comp) if u in tasks]
            if all(tasks[u].state == SUCCEEDED for u in ups):
                self._launching.add((job_id, comp.name))
                self.spawn(self._launch(job.spec, comp.name, task.attempt), f"launch-{job_id}-{comp.name}")

    async def _launch(self, spec_bytes: bytes, task_name: str, attempt: int) -> None:
        spec = load_spec(spec_bytes)
        job_id = spec.job_id
        session_id = topics.session_id(job_id, task_name, attempt)
        allocated = False
        with job_context(job_id, task_name):
            try:
                run = await self._run_task(spec, task_name, attempt, session_id)
                session = await self._allocate(spec, run, session_id)
                allocated = True
                if not session.node_ids:
                    raise PermanentError(
                        f"the cluster allocated no node to task {task_name} at party {self.party}"
                    )
                node_id = session.node_ids[0]
                async with self._lock(job_id):
                    job = self._store.get_job(job_id)
                    task = self._store.get_task(job_id, self.party, task_name)
                    if (
                        job is None
                        or job.state != RUNNING
                        or task is None
                        or task.state != WAITING
                        or task.attempt != attempt
                    ):
                        return  # stopped meanwhile; the finally below releases the session
                    task.state, task.node_id, task.started, task.message = RUNNING, node_id, time.time(), ""
                    self._store.put_task(task)
                    self._log(task, task_log.started(attempt, node_id))
                    await self._cluster.run_task(node_id, run)
                    allocated = False  # from now on the task's end releases it
                    self._metrics.tasks.labels(RUNNING).inc()
                    log.info("task %s attempt %d started on node %s", task_name, attempt, node_id)
                    await self._on_change(job_id)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("task %s attempt %d could not start: %s", task_name, attempt, exc)
                async with self._lock(job_id):
                    await self.locked_task_failed(
                        job_id, task_name, attempt, _message(exc), retryable=_retryable(exc)
                    )
            finally:
                self._launching.discard((job_id, task_name))
                if allocated:
                    self.spawn(self._release(session_id), f"release-{session_id}")

    async def _run_task(
        self, spec: flow_pb2.JobSpec, task_name: str, attempt: int, session_id: str
    ) -> node_pb2.RunTask:
        comp = next(c for c in spec.components if c.name == task_name)
        role = jobspec.party_roles(spec)[self.party]
        run = node_pb2.RunTask(
            job_id=spec.job_id,
            task_name=task_name,
            attempt=attempt,
            component=comp.component,
            role=role,
            party_id=self.party,
            parties=spec.parties,
            output_namespace=f"job_{spec.job_id}",
            timeout_s=max(1.0, self._deadline(spec) - time.time()),
            compute_session=session_id,
        )
        run.params.update(jobspec.merged_params(comp, role, self.party))
        for name, ref in jobspec.table_inputs(comp, role, self.party).items():
            if await self._cluster.table_meta(ref.namespace, ref.name) is None:
                raise PermanentError(f"table {ref.namespace}.{ref.name} not found at party {self.party}")
            run.input_tables[name].CopyFrom(ref)
        for name, (upstream, output) in jobspec.task_inputs(comp).items():
            up = self._store.get_task(spec.job_id, self.party, upstream)
            if up is None:
                continue  # the upstream task does not run at this party's role
            if output == jobspec.MODEL_OUTPUT:
                data = self._store.get_model(spec.job_id, upstream, self.party)
                if data is None:
                    raise PermanentError(f"task {upstream} produced no model at party {self.party}")
                value = values_pb2.Value()
                value.ParseFromString(data)
                run.input_models[name].CopyFrom(value)
            elif output in up.outputs:
                ns, table = jobspec.parse_table_name(up.outputs[output], f"{upstream}.{output}")
                run.input_tables[name].CopyFrom(node_pb2.TableRef(namespace=ns, name=table))
            else:
                raise PermanentError(f"task {upstream} produced no output {output!r} at party {self.party}")
        return run

    async def _allocate(self, spec: flow_pb2.JobSpec, run: node_pb2.RunTask, session_id: str) -> Any:
        prefer = [f"{t.namespace}.{t.name}" for t in run.input_tables.values()]
        while True:
            try:
                return await self._cluster.allocate(
                    session_id, cpus=self._settings.task_cpus, timeout_s=run.timeout_s, prefer_tables=prefer
                )
            except RetryableError as exc:
                job = self._store.get_job(spec.job_id)
                if (
                    job is None
                    or job.state != RUNNING
                    or time.time() + self._settings.retry_delay_s > self._deadline(spec)
                ):
                    raise
                log.info("allocation for %s must wait: %s", session_id, exc)
                await asyncio.sleep(max(self._settings.retry_delay_s, 0.05))

    def _deadline(self, spec: flow_pb2.JobSpec) -> float:
        """When the job times out at this party: its local creation plus ``timeout_s``."""
        job = self._store.get_job(spec.job_id)
        return (job.created if job is not None else time.time()) + spec.timeout_s

    async def _release(self, session_id: str) -> None:
        try:
            await self._cluster.release(session_id)
        except SilobridgeError as exc:
            log.warning("could not release session %s: %s", session_id, exc)

    # ----- task outcomes --------------------------------------------------------------------------
    async def locked_task_failed(
        self, job_id: str, task_name: str, attempt: int, message: str, *, retryable: bool
    ) -> None:
        """Retry with ``attempt + 1`` when the failure was transient and retries are left; else FAILED."""
        task = self._store.get_task(job_id, self.party, task_name)
        job = self._store.get_job(job_id)
        if task is None or job is None or task.attempt != attempt or task.state in TASK_FINAL:
            return
        if job.state == RUNNING and retryable and attempt <= self._settings.max_task_retries:
            task.state, task.attempt, task.node_id = WAITING, attempt + 1, ""
            task.message = f"attempt {attempt} failed: {message}; retrying"
            self._store.put_task(task)
            self._store.add_task_log(
                job_id, self.party, task_name, attempt, task_log.retrying(attempt, message)
            )
            log.warning("task %s attempt %d failed (%s); retrying", task_name, attempt, message)
            self.spawn(self._advance_later(job_id), f"retry-{job_id}-{task_name}")
        else:
            task.state, task.ended, task.message = FAILED, time.time(), message
            self._store.put_task(task)
            self._log(task, task_log.ended(FAILED, message))
            self._metrics.tasks.labels(FAILED).inc()
            log.warning("task %s failed at party %d: %s", task_name, self.party, message)
        await self._on_change(job_id)

    async def _advance_later(self, job_id: str) -> None:
        await asyncio.sleep(self._settings.retry_delay_s)
        async with self._lock(job_id):
            self.locked_advance(job_id)

    async def on_event(self, event: node_pb2.TaskEvent) -> None:
        """A node-manager's ``TaskEvent`` for one of this party's task runs."""
        if event.party_id != self.party:
            return
        state = task_state_name(event.state)
        with job_context(event.job_id, event.task_name):
            async with self._lock(event.job_id):
                task = self._store.get_task(event.job_id, self.party, event.task_name)
                if task is None or task.attempt != event.attempt or task.state in TASK_FINAL:
                    return  # unknown, stale attempt, or already decided
                if event.metrics:
                    now = event.time_unix or time.time()
                    points = [
                        MetricRecord(m.name, m.step, m.value, event.attempt, now) for m in event.metrics
                    ]
                    self._store.add_metrics(event.job_id, self.party, event.task_name, points)
                    self._log(task, task_log.metrics(points))
                session_id = topics.session_id(event.job_id, event.task_name, event.attempt)
                if state == RUNNING:
                    self._log(task, task_log.progress(task.progress, event.progress))
                    task.progress = max(task.progress, event.progress)
                    if event.node_id and not task.node_id:
                        task.node_id = event.node_id
                    self._store.put_task(task)
                elif state == SUCCEEDED and (refusal := self._check_outcome(task, event)) is not None:
                    await self._locked_run_failed(task, refusal, retryable=False)
                elif state == SUCCEEDED:
                    self._succeeded(task, event)
                    self.spawn(self._release(session_id), f"release-{session_id}")
                    await self._on_change(event.job_id)
                elif state in (FAILED, CANCELLED):
                    message = event.message or f"task {event.task_name} {state.lower()} at party {self.party}"
                    # Only the node-manager knows whether the failure was transient; a
                    # CANCELLED run was ended on purpose and is never retried.
                    retryable = state == FAILED and event.retryable
                    await self._locked_run_failed(task, message, retryable=retryable)

    async def _locked_run_failed(self, task: TaskRecord, message: str, *, retryable: bool) -> None:
        """A task run ended badly: release its compute session, then retry or fail the task.

        The one path for a FAILED/CANCELLED ``TaskEvent`` and for the cluster's ``node_lost`` /
        ``session_expired``, so the job-level consequences are the same whoever noticed first.
        """
        session_id = topics.session_id(task.job_id, task.task_name, task.attempt)
        self.spawn(self._release(session_id), f"release-{session_id}")
        await self.locked_task_failed(task.job_id, task.task_name, task.attempt, message, retryable=retryable)

    # ----- compute-plane events (cluster.events) ------------------------------------------------
    async def on_node_lost(self, node_id: str) -> None:
        """The cluster-manager lost a node: its unfinished task runs here fail, retryably."""
        if not node_id:
            return  # tasks not yet placed have no node id; an event without one names nothing
        for job in self._store.list_jobs(limit=10_000, states=(RUNNING,)):
            for task in self._store.list_tasks(job.job_id, self.party):
                if task.node_id != node_id or task.state in TASK_FINAL:
                    continue
                await self._fail_lost_run(
                    task,
                    f"node {node_id} was lost while running task {task.task_name}",
                    retryable=True,
                    still=lambda t: t.node_id == node_id and t.state not in TASK_FINAL,
                )

    async def on_session_expired(self, session_id: str) -> None:
        """A compute session passed its deadline: the run it belongs to fails, not retryably."""
        parts = session_id.split(".")
        if len(parts) != 3 or not parts[2].isdigit():
            log.debug("ignored expiry of session %r: not a flow task session", session_id)
            return
        job_id, task_name, attempt = parts[0], parts[1], int(parts[2])
        task = self._store.get_task(job_id, self.party, task_name)
        if task is None or task.attempt != attempt or task.state != RUNNING:
            return  # not ours, an older attempt, or already decided
        await self._fail_lost_run(
            task,
            f"compute session {session_id} expired: task {task_name} ran past its deadline",
            retryable=False,
            still=lambda t: t.attempt == attempt and t.state == RUNNING,
        )

    async def _fail_lost_run(
        self, seen: TaskRecord, message: str, *, retryable: bool, still: Callable[[TaskRecord], bool]
    ) -> None:
        """Under the job lock, re-check the run is still the one the event is about, then fail it.

        ``CancelTask`` goes to its node too: a node the cluster lost may only be cut off, and
        must not keep running (and federating) an attempt that flow has given up on.
        """
        with job_context(seen.job_id, seen.task_name):
            async with self._lock(seen.job_id):
                task = self._store.get_task(seen.job_id, self.party, seen.task_name)
                if task is None or task.attempt != seen.attempt or not still(task):
                    return  # changed meanwhile (a TaskEvent or a duplicate event got here first)
                log.warning("task %s attempt %d: %s", task.task_name, task.attempt, message)
                if task.node_id:
                    cancel = node_pb2.CancelTask(
                        job_id=task.job_id, task_name=task.task_name, attempt=task.attempt, reason=message
                    )
                    try:
                        await self._cluster.cancel_task(task.node_id, cancel)
                    except SilobridgeError as exc:
                        log.warning(
                            "could not cancel task %s on node %s: %s", task.task_name, task.node_id, exc
                        )
                await self._locked_run_failed(task, message, retryable=retryable)

    def _succeeded(self, task: TaskRecord, event: node_pb2.TaskEvent) -> None:
        task.outputs = {name: f"{ref.namespace}.{ref.name}" for name, ref in event.output_tables.items()}
        task.summary = dict(event.summary)
        if event.HasField("model"):
            self._store.put_model(task.job_id, task.task_name, self.party, event.model.SerializeToString())
        task.state, task.ended, task.progress, task.message = SUCCEEDED, time.time(), 1.0, event.message
        self._store.put_task(task)
        self._log(task, task_log.ended(SUCCEEDED, event.message, task.summary))
        self._metrics.tasks.labels(SUCCEEDED).inc()
        log.info("task %s succeeded at party %d", task.task_name, self.party)

    def _log(self, task: TaskRecord, lines: list[str]) -> None:
        if lines:
            self._store.add_task_log(task.job_id, self.party, task.task_name, task.attempt, lines)

    async def cancel_on_node(self, task: TaskRecord, reason: str) -> None:
        """``CancelTask`` to the node running this task's attempt, and release its session."""
        if task.node_id:
            cancel = node_pb2.CancelTask(
                job_id=task.job_id, task_name=task.task_name, attempt=task.attempt, reason=reason
            )
            try:
                await self._cluster.cancel_task(task.node_id, cancel)
            except SilobridgeError as exc:
                log.warning("could not cancel task %s on node %s: %s", task.task_name, task.node_id, exc)
        session_id = topics.session_id(task.job_id, task.task_name, task.attempt)
        self.spawn(self._release(session_id), f"release-{session_id}")

    # ----- stopping --------------------------------------------------------------------------------
    async def locked_cancel_all(self, job_id: str, reason: str) -> None:
        """Cancel this party's unfinished tasks of a job that ended (CancelTask to running ones)."""
        for task in self._store.list_tasks(job_id, self.party):
            if task.state in TASK_FINAL:
                continue
            if task.state == RUNNING:
                await self.cancel_on_node(task, reason)
            task.state, task.ended, task.message = CANCELLED, time.time(), reason
            self._store.put_task(task)
            self._log(task, task_log.ended(CANCELLED, reason))
            self._metrics.tasks.labels(CANCELLED).inc()


def _message(exc: BaseException) -> str:
    return (
        public_message(exc) if isinstance(exc, SilobridgeError) else f"internal error ({type(exc).__name__})"
    )


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, RetryableError)
