"""Cross-party job coordination and the job state machine of this party.

Initiator: stores the job PROPOSED, sends ``propose`` to every other party, waits for ``accept``
from all (any ``refuse`` -> REFUSED everywhere; no answer in ``accept_timeout_s`` -> FAILED),
sends ``start``, then aggregates the ``status`` every party sends on each task change: all tasks
of all parties SUCCEEDED -> SUCCEEDED; a failure anywhere -> FAILED; it then tells every other
party the verdict (``status`` with the final state, and ``stop`` carrying that state unless it
succeeded, so whichever arrives first ends the job in the right state).

Other parties: validate a proposal with the same rules, then ask this party's policy (see
``policy``) before any table is looked at: refuse (with a reason that reveals nothing about what
exists here), accept, or hold it for an operator's ``approve``/``refuse`` (the initiator is told
with a ``status`` PROPOSED and waits up to the job's timeout). Then run
their own tasks after ``start``, report ``status`` to the initiator, obey ``stop`` and the final
``status``. Messages are applied once per message id; messages about a job not yet proposed here
are held until the proposal arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict

from flow import jobspec
from flow.admission import RouterAdmissions
from flow.cluster_client import ClusterClient
from flow.control import ControlChannel
from flow.governance import Governance
from flow.metrics import FlowMetrics
from flow.policy import ACCEPT, HOLD, REFUSE, intersection_floor
from flow.scheduler import JobLocks, Scheduler, load_spec
from flow.settings import FlowSettings
from flow.states import (
    ACCEPTED,
    FAILED,
    HELD,
    JOB_FINAL,
    PROPOSED,
    REFUSED,
    RUNNING,
    STOPPED,
    SUCCEEDED,
    TASK_FINAL,
    job_state_enum,
    job_state_name,
    task_state_enum,
    task_state_name,
)
from flow.store import JobRecord, JobStore, PartyRecord, TaskRecord
from silobridge.errors import Conflict, InvalidInput, NotFound, SilobridgeError, public_message
from silobridge.flow.v1 import flow_pb2
from silobridge.node.v1 import node_pb2
from silobridge.observability.logs import job_context

log = logging.getLogger(__name__)

MAX_HELD_JOBS = 256
MAX_HELD_PER_JOB = 32


class Coordinator:
    def __init__(
        self,
        settings: FlowSettings,
        store: JobStore,
        cluster: ClusterClient,
        control: ControlChannel,
        metrics: FlowMetrics,
        rules: jobspec.SpecRules,
        governance: Governance | None = None,
        admissions: RouterAdmissions | None = None,
    ) -> None:
        self.party = settings.party_id
        self._settings = settings
        self._store = store
        self._cluster = cluster
        self._control = control
        self._metrics = metrics
        self.rules = rules
        self.admissions = admissions  # None: no router to tell (tests of flow alone)
        self.governance = governance or Governance(store, settings.party_id, settings.policy_file)
        self._lock = JobLocks()
        self.scheduler = Scheduler(
            settings, store, cluster, metrics, self._lock, self._locked_task_changed, self._policy_check
        )
        self._held: OrderedDict[str, list[tuple[int, flow_pb2.ControlMessage, str]]] = OrderedDict()

    # ----- submit / stop (REST API at this party) -------------------------------------------------
    async def submit(self, text: bytes) -> JobRecord:
        """Validate a job YAML, store it PROPOSED and propose it to the other parties."""
        spec = jobspec.parse_job_yaml(text, self.rules)
        if spec.initiator_party_id != self.party:
            raise InvalidInput(
                f"initiator: party {spec.initiator_party_id} is not this party ({self.party}); "
                "submit the job at the initiator's flow"
            )
        await self._check_tables(spec)
        roles = jobspec.party_roles(spec)
        now = time.time()
        job = JobRecord(spec.job_id, spec.SerializeToString(), PROPOSED, self.party, now, now)
        parties = [
            PartyRecord(spec.job_id, p, role, ACCEPTED if p == self.party else PROPOSED)
            for p, role in roles.items()
        ]
        tasks = [
            TaskRecord(spec.job_id, p, c.name, c.component, role)
            for p, role in roles.items()
            for c in jobspec.tasks_at(spec, p)
        ]
        with job_context(spec.job_id):
            async with self._lock(spec.job_id):
                self._store.create_job(job, parties, tasks)  # Conflict if the id exists
                self._count(PROPOSED)
                log.info("job submitted; proposing it to %d parties", len(roles) - 1)
                for party in roles:
                    if party != self.party:
                        await self._send(
                            spec, party, flow_pb2.ControlMessage(propose=flow_pb2.ProposeJob(spec=spec))
                        )
                if len(roles) == 1:
                    await self._locked_start(spec.job_id)
        return self._store.get_job(spec.job_id) or job

    async def stop(self, job_id: str, reason: str = "") -> JobRecord:
        """Stop a job from this party's API: everywhere at the initiator, here (and reported) elsewhere."""
        with job_context(job_id):
            async with self._lock(job_id):
                job = self._require(job_id)
                if job.state in JOB_FINAL:
                    raise Conflict(f"job {job_id} already ended: {job.state}")
                message = reason or f"stopped by the user at party {self.party}"
                if job.initiator == self.party:
                    await self._locked_conclude(job_id, STOPPED, message)
                else:
                    await self._locked_finish(job_id, STOPPED, message)
                    await self._locked_send_status(job_id)
                return self._require(job_id)

    def _require(self, job_id: str) -> JobRecord:
        job = self._store.get_job(job_id)
        if job is None:
            raise NotFound(f"no job {job_id}")
        return job

    async def _check_tables(self, spec: flow_pb2.JobSpec) -> None:
        role = jobspec.party_roles(spec)[self.party]
        for comp in jobspec.tasks_at(spec, self.party):
            for ref in jobspec.table_inputs(comp, role, self.party).values():
                if await self._cluster.table_meta(ref.namespace, ref.name) is None:
                    raise InvalidInput(
                        f"table {ref.namespace}.{ref.name} not found at party {self.party} (task {comp.name})"
                    )

    # ----- control messages ---------------------------------------------------------------------
    async def on_control(self, sender: int, msg: flow_pb2.ControlMessage, message_id: str) -> None:
        if self._store.message_seen(message_id):
            return
        with job_context(msg.job_id):
            async with self._lock(msg.job_id):
                await self._locked_dispatch(sender, msg, message_id)

    async def _locked_dispatch(self, sender: int, msg: flow_pb2.ControlMessage, message_id: str) -> None:
        if self._store.message_seen(message_id):
            return
        kind = msg.WhichOneof("command")
        log.info(
            "control %s from party %d", kind, sender, extra={"peer": str(sender), "message_id": message_id}
        )
        if kind == "propose":
            await self._locked_on_propose(sender, msg.propose.spec)
            self._store.remember_message(message_id)
            for early in self._held.pop(msg.job_id, []):
                await self._locked_dispatch(*early)
            return
        job = self._store.get_job(msg.job_id)
        if job is None:  # ahead of its proposal: keep it until the proposal is stored
            held = self._held.setdefault(msg.job_id, [])
            if len(held) < MAX_HELD_PER_JOB:
                held.append((sender, msg, message_id))
            while len(self._held) > MAX_HELD_JOBS:
                self._held.popitem(last=False)
            return
        if job.initiator == self.party:
            await self._locked_at_initiator(job, sender, msg)
        elif sender != job.initiator:
            log.warning(
                "ignored %s for job %s from party %d: only the initiator %d may send it",
                kind,
                job.job_id,
                sender,
                job.initiator,
            )
        else:
            await self._locked_from_initiator(job, msg)
        self._store.remember_message(message_id)

    async def _locked_on_propose(self, sender: int, spec: flow_pb2.JobSpec) -> None:
        existing = self._store.get_job(spec.job_id)
        if existing is not None:
            if existing.initiator != sender or existing.spec != spec.SerializeToString():
                await self._answer(
                    spec, sender, f"job id {spec.job_id} is already used at party {self.party}"
                )
            elif existing.state == PROPOSED:  # still held for approval: say so again
                await self._send_held(spec, sender)
            else:  # a repeated proposal: repeat the answer
                await self._answer(spec, sender, existing.message if existing.state == REFUSED else None)
            return
        reason: str | None = None
        verdict = ACCEPT
        try:
            if spec.initiator_party_id != sender:
                raise InvalidInput(
                    f"proposal names initiator {spec.initiator_party_id} but came from party {sender}"
                )
            jobspec.validate_spec(spec, self.rules)
            decision = self.governance.decide(spec, sender)  # before any table is looked up
            verdict, reason = decision.verdict, decision.reason or None
            if verdict == ACCEPT:
                await self._check_tables(spec)
        except SilobridgeError as exc:
            verdict, reason = REFUSE, public_message(exc)
        refused = verdict not in (ACCEPT, HOLD)
        roles = {} if refused else jobspec.party_roles(spec)
        now = time.time()
        job = JobRecord(spec.job_id, spec.SerializeToString(), PROPOSED, sender, now, now)
        parties = [PartyRecord(spec.job_id, p, role, PROPOSED) for p, role in roles.items()]
        tasks = [] if refused else [
            TaskRecord(spec.job_id, self.party, c.name, c.component, roles[self.party])
            for c in jobspec.tasks_at(spec, self.party)
        ]  # fmt: skip
        self._store.create_job(job, parties, tasks)
        self._count(PROPOSED)
        self.governance.audit("policy", verdict, job_id=spec.job_id, peer=sender, reason=reason or "")
        if verdict == HOLD:
            log.warning("held job %s proposed by party %d for approval: %s", spec.job_id, sender, reason)
            await self._send_held(spec, sender)
            return
        if reason is None:
            self._set_state(spec.job_id, ACCEPTED)
            self._store.set_party_state(spec.job_id, self.party, ACCEPTED)
            log.info("accepted job %s proposed by party %d", spec.job_id, sender)
        else:
            self._set_state(spec.job_id, REFUSED, reason)
            log.warning("refused job %s proposed by party %d: %s", spec.job_id, sender, reason)
        await self._answer(spec, sender, reason)

    async def _send_held(self, spec: flow_pb2.JobSpec, to: int) -> None:
        status = flow_pb2.JobStatus(
            state=flow_pb2.JOB_STATE_PROPOSED, message=f"held for approval at party {self.party}"
        )
        await self._send(spec, to, flow_pb2.ControlMessage(status=status))

    # ----- approvals (REST API at this party) ---------------------------------------------------
    def pending(self) -> list[JobRecord]:
        """Proposals of other parties held here for approval, newest first."""
        held = self._store.list_jobs(limit=10_000, states=(PROPOSED,))
        return [j for j in held if j.initiator != self.party]

    async def approve(self, job_id: str, actor: str) -> JobRecord:
        """An operator accepts a held proposal (its tables must exist); the initiator is told."""
        with job_context(job_id):
            async with self._lock(job_id):
                job, spec = self._require_held(job_id)
                try:
                    await self._check_tables(spec)
                except SilobridgeError as exc:
                    reason = public_message(exc)
                    self.governance.audit(actor, "refuse", job_id=job_id, peer=job.initiator, reason=reason)
                    self._set_state(job_id, REFUSED, reason)
                    await self._answer(spec, job.initiator, reason)
                    raise
                self.governance.audit(actor, "approve", job_id=job_id, peer=job.initiator)
                self._set_state(job_id, ACCEPTED)
                self._store.set_party_state(job_id, self.party, ACCEPTED)
                await self._answer(spec, job.initiator, None)
                return self._require(job_id)

    async def refuse(self, job_id: str, actor: str, reason: str = "") -> JobRecord:
        """An operator refuses a held proposal; the job ends REFUSED everywhere."""
        with job_context(job_id):
            async with self._lock(job_id):
                job, spec = self._require_held(job_id)
                message = f"refused by an operator at party {self.party}" + (f": {reason}" if reason else "")
                self.governance.audit(actor, "refuse", job_id=job_id, peer=job.initiator, reason=message)
                self._set_state(job_id, REFUSED, message)
                await self._answer(spec, job.initiator, message)
                return self._require(job_id)

    def _require_held(self, job_id: str) -> tuple[JobRecord, flow_pb2.JobSpec]:
        job = self._require(job_id)
        if job.initiator == self.party or job.state != PROPOSED:
            raise Conflict(f"job {job_id} is not waiting for approval here (state {job.state})")
        return job, load_spec(job.spec)

    def _policy_check(self, task: TaskRecord, event: node_pb2.TaskEvent) -> str | None:
        """Limits of the policy on a task's outcome: a PSI here must reach the required intersection."""
        if task.component != "psi":
            return None
        job = self._store.get_job(task.job_id)
        if job is None or job.initiator == self.party:
            return None
        floor = intersection_floor(self.governance.policy, job.initiator)
        rows = event.summary.get("intersected_rows")
        if floor is None or rows is None or rows >= floor:
            return None
        return (
            f"the intersection of {rows:g} rows is below the minimum of {floor} rows "
            f"that the policy of party {self.party} requires"
        )

    async def _answer(self, spec: flow_pb2.JobSpec, to: int, refusal: str | None) -> None:
        if refusal is None:
            msg = flow_pb2.ControlMessage(accept=flow_pb2.AcceptJob())
        else:
            msg = flow_pb2.ControlMessage(refuse=flow_pb2.RefuseJob(reason=refusal))
        await self._send(spec, to, msg)

    async def _locked_at_initiator(self, job: JobRecord, sender: int, msg: flow_pb2.ControlMessage) -> None:
        spec = load_spec(job.spec)
        roles = jobspec.party_roles(spec)
        kind = msg.WhichOneof("command")
        if sender not in roles or sender == self.party:
            log.warning(
                "ignored %s for job %s from party %d, which is not in the job", kind, job.job_id, sender
            )
            return
        if kind == "accept":
            if job.state != PROPOSED:
                return
            self._store.set_party_state(job.job_id, sender, ACCEPTED)
            if all(p.state == ACCEPTED for p in self._store.list_parties(job.job_id)):
                await self._locked_start(job.job_id)
        elif kind == "refuse":
            self._store.set_party_state(job.job_id, sender, REFUSED, msg.refuse.reason)
            if job.state in (PROPOSED, ACCEPTED):
                await self._locked_conclude(
                    job.job_id, REFUSED, f"refused by party {sender}: {msg.refuse.reason}"
                )
        elif kind == "status":
            if job.state == PROPOSED and msg.status.state == flow_pb2.JOB_STATE_PROPOSED:
                self._store.set_party_state(job.job_id, sender, HELD, msg.status.message)
                log.info("job %s: %s", job.job_id, msg.status.message)
                return
            self._apply_status(job.job_id, sender, msg.status)
            if job.state == RUNNING:
                await self._locked_evaluate(job.job_id)
        else:
            log.warning(
                "ignored %s for job %s from party %d: not a message for the initiator",
                kind,
                job.job_id,
                sender,
            )

    def _apply_status(self, job_id: str, sender: int, status: flow_pb2.JobStatus) -> None:
        """Record another party's view: its job state and its task states (never regressing a final one)."""
        for ts in status.tasks:
            task = self._store.get_task(job_id, sender, ts.task_name)
            state = task_state_name(ts.state)
            if task is None or task.state in TASK_FINAL or state == task.state:
                continue
            task.state, task.message = state, ts.message
            if state in TASK_FINAL:
                task.ended = time.time()
            self._store.put_task(task)
        parties = {p.party_id: p for p in self._store.list_parties(job_id)}
        state = job_state_name(status.state)
        if sender in parties and parties[sender].state not in JOB_FINAL and state:
            self._store.set_party_state(job_id, sender, state, status.message)

    async def _locked_from_initiator(self, job: JobRecord, msg: flow_pb2.ControlMessage) -> None:
        kind = msg.WhichOneof("command")
        if kind == "start":
            if job.state == ACCEPTED:
                self._set_state(job.job_id, RUNNING)
                self._store.set_party_state(job.job_id, self.party, RUNNING)
                log.info("job %s started by initiator %d", job.job_id, job.initiator)
                self.scheduler.locked_advance(job.job_id)
        elif kind == "stop":
            await self._locked_finish(
                job.job_id,
                stop_state(msg.stop),
                msg.stop.reason or f"stopped by initiator {job.initiator}",
            )
        elif kind == "refuse":
            if job.state in (PROPOSED, ACCEPTED):
                await self._locked_finish(job.job_id, REFUSED, msg.refuse.reason)
        elif kind == "status":
            state = job_state_name(msg.status.state)
            if state in JOB_FINAL:
                await self._locked_finish(job.job_id, state, msg.status.message)
        else:
            log.warning("ignored %s for job %s from its initiator", kind, job.job_id)

    # ----- decisions ----------------------------------------------------------------------------
    async def _locked_start(self, job_id: str) -> None:
        job = self._require(job_id)
        spec = load_spec(job.spec)
        self._set_state(job_id, ACCEPTED)
        for party in jobspec.party_roles(spec):
            if party != self.party:
                await self._send(spec, party, flow_pb2.ControlMessage(start=flow_pb2.StartJob()))
        self._set_state(job_id, RUNNING)
        self._store.set_party_state(job_id, self.party, RUNNING)
        log.info("job %s accepted by every party; started", job_id)
        self.scheduler.locked_advance(job_id)

    async def _locked_task_changed(self, job_id: str) -> None:
        """Called by the scheduler (lock held) after any change of this party's tasks."""
        job = self._store.get_job(job_id)
        if job is None:
            return
        if job.initiator == self.party:
            await self._locked_evaluate(job_id)
        else:
            failed = [t for t in self._store.list_tasks(job_id, self.party) if t.state == FAILED]
            if failed and job.state == RUNNING:
                t = failed[0]
                await self._locked_finish(
                    job_id, FAILED, f"task {t.task_name} failed at party {self.party}: {t.message}"
                )
            await self._locked_send_status(job_id)
        self.scheduler.locked_advance(job_id)

    async def _locked_evaluate(self, job_id: str) -> None:
        """Initiator: decide the job from every party's task states."""
        job = self._require(job_id)
        if job.state != RUNNING:
            return
        tasks = self._store.list_tasks(job_id)
        failed = next((t for t in tasks if t.state == FAILED), None)
        gone = next((p for p in self._store.list_parties(job_id) if p.state in (FAILED, STOPPED)), None)
        if failed is not None:
            await self._locked_conclude(
                job_id, FAILED, f"task {failed.task_name} failed at party {failed.party_id}: {failed.message}"
            )
        elif gone is not None:
            await self._locked_conclude(
                job_id, gone.state, f"party {gone.party_id}: {gone.message or gone.state.lower()}"
            )
        elif tasks and all(t.state == SUCCEEDED for t in tasks):
            await self._locked_conclude(job_id, SUCCEEDED, "")

    async def _locked_conclude(self, job_id: str, state: str, message: str) -> None:
        """Initiator: end the job here and tell every other party the verdict."""
        await self._locked_finish(job_id, state, message)
        job = self._require(job_id)
        spec = load_spec(job.spec)
        own = self._task_statuses(job_id)
        for party in jobspec.party_roles(spec):
            if party == self.party:
                continue
            if state == REFUSED:
                await self._send(
                    spec, party, flow_pb2.ControlMessage(refuse=flow_pb2.RefuseJob(reason=message))
                )
                continue
            status = flow_pb2.JobStatus(state=job_state_enum(state), tasks=own, message=message)
            await self._send(spec, party, flow_pb2.ControlMessage(status=status))
            if state != SUCCEEDED:
                stop = flow_pb2.StopJob(reason=message, state=job_state_enum(state))
                await self._send(spec, party, flow_pb2.ControlMessage(stop=stop))
        log.info("job %s %s%s", job_id, state, f": {message}" if message else "")

    async def _locked_finish(self, job_id: str, state: str, message: str) -> None:
        """End the job at this party: final state, cancel what still runs here."""
        job = self._require(job_id)
        if job.state in JOB_FINAL:
            return
        self._set_state(job_id, state, message)
        self._store.set_party_state(job_id, self.party, state, message)
        await self.scheduler.locked_cancel_all(job_id, message or f"job {state.lower()}")

    async def _locked_send_status(self, job_id: str) -> None:
        job = self._require(job_id)
        if job.initiator == self.party:
            return
        status = flow_pb2.JobStatus(
            state=job_state_enum(job.state), tasks=self._task_statuses(job_id), message=job.message
        )
        await self._send(load_spec(job.spec), job.initiator, flow_pb2.ControlMessage(status=status))

    def _task_statuses(self, job_id: str) -> list[flow_pb2.TaskStatus]:
        return [
            flow_pb2.TaskStatus(task_name=t.task_name, state=task_state_enum(t.state), message=t.message)
            for t in self._store.list_tasks(job_id, self.party)
        ]

    # ----- deadlines and restart ----------------------------------------------------------------
    async def check_deadlines(self, now: float | None = None) -> None:
        """Accept timeout at the initiator; job timeout everywhere. Called by the watchdog."""
        now = time.time() if now is None else now
        for job in self._store.list_jobs(limit=10_000, states=(PROPOSED, ACCEPTED, RUNNING)):
            spec = load_spec(job.spec)
            with job_context(job.job_id):
                async with self._lock(job.job_id):
                    current = self._store.get_job(job.job_id)
                    if current is None or current.state in JOB_FINAL:
                        continue
                    if (
                        current.initiator == self.party
                        and current.state == PROPOSED
                        and now > current.created + self._settings.accept_timeout_s
                        and any(p.state == PROPOSED for p in self._store.list_parties(job.job_id))
                    ):
                        # A party holding the proposal for approval has answered; the job timeout applies.
                        silent = [
                            p.party_id for p in self._store.list_parties(job.job_id) if p.state == PROPOSED
                        ]
                        who = ", ".join(str(p) for p in silent) or "a party"
                        await self._locked_conclude(
                            job.job_id,
                            FAILED,
                            f"no answer to the proposal from party {who} within {self._settings.accept_timeout_s:g}s",
                        )
                    elif now > current.created + spec.timeout_s:
                        message = f"job timed out after {spec.timeout_s:g}s at party {self.party}"
                        await self._locked_fail(current, message)

    async def fail_running(self, job_id: str, message: str) -> None:
        """Fail a job still RUNNING here for what this party observed (a peer fell silent)."""
        with job_context(job_id):
            async with self._lock(job_id):
                job = self._store.get_job(job_id)
                if job is not None and job.state == RUNNING:
                    await self._locked_fail(job, message)

    async def _locked_fail(self, job: JobRecord, message: str) -> None:
        """FAILED here; the initiator tells every party, any other party tells the initiator."""
        if job.initiator == self.party:
            await self._locked_conclude(job.job_id, FAILED, message)
        else:
            await self._locked_finish(job.job_id, FAILED, message)
            await self._locked_send_status(job.job_id)

    async def recover(self) -> None:
        """After a restart: nothing stays stuck. Tasks that were running are gone -> their job fails."""
        for job in self._store.list_jobs(limit=10_000, states=(PROPOSED, ACCEPTED, RUNNING)):
            spec = load_spec(job.spec)
            with job_context(job.job_id):
                async with self._lock(job.job_id):
                    if job.state == RUNNING:
                        lost = [
                            t for t in self._store.list_tasks(job.job_id, self.party) if t.state == RUNNING
                        ]
                        for t in lost:
                            message = (
                                f"flow at party {self.party} restarted while task {t.task_name} was running; "
                                "its outcome is unknown"
                            )
                            await self.scheduler.cancel_on_node(t, message)
                            await self.scheduler.locked_task_failed(
                                job.job_id, t.task_name, t.attempt, message, retryable=False
                            )
                        if not lost:
                            self.scheduler.locked_advance(job.job_id)
                            if job.initiator == self.party:
                                await self._locked_evaluate(job.job_id)
                    elif job.initiator == self.party and job.state == PROPOSED:
                        for p in self._store.list_parties(job.job_id):
                            if p.state == PROPOSED:
                                await self._send(
                                    spec,
                                    p.party_id,
                                    flow_pb2.ControlMessage(propose=flow_pb2.ProposeJob(spec=spec)),
                                )
                    elif job.initiator == self.party and job.state == ACCEPTED:
                        await self._locked_restart_accepted(job.job_id)
            log.info("recovered job %s (%s)", job.job_id, job.state)

    async def _locked_restart_accepted(self, job_id: str) -> None:
        job = self._require(job_id)
        spec = load_spec(job.spec)
        for party in jobspec.party_roles(spec):
            if party != self.party:
                await self._send(spec, party, flow_pb2.ControlMessage(start=flow_pb2.StartJob()))
        self._set_state(job_id, RUNNING)
        self.scheduler.locked_advance(job_id)

    # ----- helpers ------------------------------------------------------------------------------
    async def _send(self, spec: flow_pb2.JobSpec, party: int, msg: flow_pb2.ControlMessage) -> None:
        roles = jobspec.party_roles(spec)
        msg.job_id = spec.job_id
        if self.admissions is not None:
            await self.admissions.flush()  # the router admits the job before a peer hears of it
        await self._control.send(party, roles.get(party, ""), roles.get(self.party, ""), msg)

    def _set_state(self, job_id: str, state: str, message: str = "") -> None:
        before = self._store.get_job(job_id)
        job = self._store.set_job_state(job_id, state, message)
        if before is not None and before.state != job.state:
            self._count(state)
            if self.admissions is not None:
                self.admissions.note(job_id, job.state)

    def _count(self, state: str) -> None:
        self._metrics.jobs.labels(state).inc()
        self._metrics.running_jobs.set(self._store.count_jobs(RUNNING))

    async def close(self) -> None:
        await self.scheduler.close()
        with contextlib.suppress(Exception):
            self._held.clear()


_STOP_STATES = {flow_pb2.JOB_STATE_FAILED: FAILED, flow_pb2.JOB_STATE_STOPPED: STOPPED}


def stop_state(stop: flow_pb2.StopJob) -> str:
    """The state a ``stop`` ends the job in: the initiator's verdict, STOPPED when it sent none.

    A stop may overtake the final ``status``; carrying the verdict keeps a FAILED job FAILED.
    Any other value (unset, from an older initiator, or not a stop verdict) means STOPPED.
    """
    return _STOP_STATES.get(stop.state, STOPPED)


async def watchdog(coordinator: Coordinator, interval_s: float) -> None:
    """Background loop of deadline checks; errors are logged, never fatal."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await coordinator.check_deadlines()
        except Exception:
            log.exception("deadline check failed")
