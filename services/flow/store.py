"""The flow state store: the interface and its records. SQL implementation: ``sql_store``.

One store per party: ``jobs`` (spec bytes, state), ``parties`` (each party's answer to the
proposal), ``tasks`` (one row per task per party — the initiator also keeps the other parties'
task states it hears about), ``metrics`` (points), ``models`` (this party's model bytes), and
the control message ids already applied (idempotency across restarts), and ``task_log`` (the
lines flow writes about this party's task runs, numbered per task). Beside the jobs:
``tokens`` (API credentials, only their SHA-256 digests), ``audit`` (every decision on a peer's
proposal and every change of credentials or policy) and ``policy`` (this party's current policy).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field


@dataclass
class JobRecord:
    job_id: str
    spec: bytes
    state: str
    initiator: int
    created: float
    updated: float
    message: str = ""


@dataclass
class PartyRecord:
    job_id: str
    party_id: int
    role: str
    state: str  # job state as seen by/for that party
    message: str = ""


@dataclass
class TaskRecord:
    job_id: str
    party_id: int
    task_name: str
    component: str
    role: str
    state: str = "WAITING"
    attempt: int = 1
    node_id: str = ""
    started: float = 0.0
    ended: float = 0.0
    message: str = ""
    summary: dict[str, float] = field(default_factory=dict)
    # output name -> "namespace.name" of a table this task wrote at its party
    outputs: dict[str, str] = field(default_factory=dict)
    progress: float = 0.0


@dataclass
class MetricRecord:
    name: str
    step: int
    value: float
    attempt: int = 1
    time: float = 0.0


@dataclass
class ModelRecord:
    job_id: str
    task_name: str
    party_id: int
    size: int
    created: float


@dataclass
class TokenRecord:
    token_id: str  # public handle (tok_...), safe to print and to revoke by
    name: str
    role: str
    digest: str  # SHA-256 hex of the secret token; the token itself is never stored
    created: float
    revoked: float = 0.0  # 0: active


@dataclass
class AuditRecord:
    time: float
    actor: str  # token name, "policy" for automatic decisions, "flow" for the bootstrap
    action: str  # accept, refuse, hold, approve, token_create, token_revoke, policy_set, ...
    job_id: str = ""
    peer: int = 0
    reason: str = ""


@dataclass
class LogLine:
    seq: int  # 1, 2, ... per task: a follower asks for the lines after the last seq it read
    time: float
    attempt: int
    line: str


class JobStore(abc.ABC):
    """Everything flow persists. Implementations must be safe to call from one event loop."""

    @abc.abstractmethod
    def create_job(self, job: JobRecord, parties: list[PartyRecord], tasks: list[TaskRecord]) -> None:
        """Insert a job with its parties and tasks atomically; :class:`Conflict` if the id exists."""

    @abc.abstractmethod
    def get_job(self, job_id: str) -> JobRecord | None: ...

    @abc.abstractmethod
    def list_jobs(self, *, limit: int = 100, states: tuple[str, ...] = ()) -> list[JobRecord]:
        """Newest first; only ``states`` when given."""

    @abc.abstractmethod
    def set_job_state(self, job_id: str, state: str, message: str = "") -> JobRecord:
        """Apply a validated transition (same state: no change). :class:`Conflict` if illegal."""

    @abc.abstractmethod
    def count_jobs(self, state: str) -> int: ...

    @abc.abstractmethod
    def set_party_state(self, job_id: str, party_id: int, state: str, message: str = "") -> None: ...

    @abc.abstractmethod
    def list_parties(self, job_id: str) -> list[PartyRecord]: ...

    @abc.abstractmethod
    def put_task(self, task: TaskRecord) -> None:
        """Insert or replace the row of (job, party, task)."""

    @abc.abstractmethod
    def get_task(self, job_id: str, party_id: int, task_name: str) -> TaskRecord | None: ...

    @abc.abstractmethod
    def list_tasks(self, job_id: str, party_id: int | None = None) -> list[TaskRecord]: ...

    @abc.abstractmethod
    def add_metrics(self, job_id: str, party_id: int, task_name: str, points: list[MetricRecord]) -> None: ...

    @abc.abstractmethod
    def list_metrics(self, job_id: str, party_id: int, task_name: str) -> list[MetricRecord]:
        """Oldest first."""

    @abc.abstractmethod
    def add_task_log(
        self, job_id: str, party_id: int, task_name: str, attempt: int, lines: list[str]
    ) -> None:
        """Append lines to the task's log (numbered after its last line)."""

    @abc.abstractmethod
    def task_log(
        self, job_id: str, party_id: int, task_name: str, *, after: int = 0, tail: int = 0, limit: int = 1000
    ) -> list[LogLine]:
        """Oldest first: the last ``tail`` lines when ``tail`` > 0, else up to ``limit`` lines after ``after``."""

    @abc.abstractmethod
    def put_model(self, job_id: str, task_name: str, party_id: int, data: bytes) -> None: ...

    @abc.abstractmethod
    def get_model(self, job_id: str, task_name: str, party_id: int) -> bytes | None: ...

    @abc.abstractmethod
    def list_models(self, job_id: str) -> list[ModelRecord]: ...

    @abc.abstractmethod
    def message_seen(self, message_id: str) -> bool:
        """Whether a control message with this id was already applied."""

    @abc.abstractmethod
    def remember_message(self, message_id: str) -> None:
        """Record an applied control message id (after its effect)."""

    # ----- credentials, audit, policy ----------------------------------------------------------
    @abc.abstractmethod
    def add_token(self, token: TokenRecord) -> None:
        """:class:`Conflict` if an active token has the same name."""

    @abc.abstractmethod
    def token_by_digest(self, digest: str) -> TokenRecord | None:
        """The token (active or revoked) with this digest."""

    @abc.abstractmethod
    def list_tokens(self) -> list[TokenRecord]:
        """Oldest first, revoked ones included."""

    @abc.abstractmethod
    def revoke_token(self, token_id_or_name: str) -> TokenRecord:
        """Revoke the active token with this id or name; :class:`NotFound` if there is none."""

    @abc.abstractmethod
    def add_audit(self, record: AuditRecord) -> None: ...

    @abc.abstractmethod
    def list_audit(self, *, limit: int = 100, job_id: str = "") -> list[AuditRecord]:
        """Newest first."""

    @abc.abstractmethod
    def get_policy(self) -> str | None:
        """The policy document (YAML text) last stored, or None."""

    @abc.abstractmethod
    def put_policy(self, text: str) -> None: ...

    @abc.abstractmethod
    def close(self) -> None: ...
