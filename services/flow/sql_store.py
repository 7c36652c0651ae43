"""``JobStore`` on SQL: SQLite (default, ``sqlite:///path`` or ``sqlite:///:memory:``) and
PostgreSQL (``postgresql://...`` through psycopg 3). One connection, serialised by a lock:
flow's queries are small and a party runs one flow.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from flow.states import check_job_transition
from flow.store import (
    AuditRecord,
    JobRecord,
    JobStore,
    LogLine,
    MetricRecord,
    ModelRecord,
    PartyRecord,
    TaskRecord,
    TokenRecord,
)
from silobridge.errors import Conflict, InvalidInput, NotFound, RetryableError
from silobridge.migrations import Migration, migrate

# Flow's schema, one step per version (silobridge.migrations). A released step is never edited:
# a change is a new step at the end. {p} is the table prefix, {blob}/{real}/{serial} the
# dialect's types.
_SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS {p}jobs (
  job_id TEXT PRIMARY KEY, spec {blob} NOT NULL, state TEXT NOT NULL, initiator BIGINT NOT NULL,
  created {real} NOT NULL, updated {real} NOT NULL, message TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS {p}jobs_created ON {p}jobs (created);
CREATE TABLE IF NOT EXISTS {p}parties (
  job_id TEXT NOT NULL, party_id BIGINT NOT NULL, role TEXT NOT NULL, state TEXT NOT NULL,
  message TEXT NOT NULL DEFAULT '', PRIMARY KEY (job_id, party_id));
CREATE TABLE IF NOT EXISTS {p}tasks (
  job_id TEXT NOT NULL, party_id BIGINT NOT NULL, task_name TEXT NOT NULL, component TEXT NOT NULL,
  role TEXT NOT NULL, state TEXT NOT NULL, attempt INTEGER NOT NULL, node_id TEXT NOT NULL,
  started {real} NOT NULL, ended {real} NOT NULL, message TEXT NOT NULL, summary TEXT NOT NULL,
  outputs TEXT NOT NULL, progress {real} NOT NULL, PRIMARY KEY (job_id, party_id, task_name));
CREATE TABLE IF NOT EXISTS {p}metrics (
  id {serial}, job_id TEXT NOT NULL, party_id BIGINT NOT NULL, task_name TEXT NOT NULL,
  attempt INTEGER NOT NULL, name TEXT NOT NULL, step BIGINT NOT NULL, value {real} NOT NULL,
  time {real} NOT NULL);
CREATE INDEX IF NOT EXISTS {p}metrics_task ON {p}metrics (job_id, party_id, task_name);
CREATE TABLE IF NOT EXISTS {p}models (
  job_id TEXT NOT NULL, task_name TEXT NOT NULL, party_id BIGINT NOT NULL, data {blob} NOT NULL,
  created {real} NOT NULL, PRIMARY KEY (job_id, task_name, party_id));
CREATE TABLE IF NOT EXISTS {p}seen (message_id TEXT PRIMARY KEY, time {real} NOT NULL);
CREATE TABLE IF NOT EXISTS {p}tokens (
  token_id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, digest TEXT NOT NULL UNIQUE,
  created {real} NOT NULL, revoked {real} NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS {p}audit (
  id {serial}, time {real} NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, job_id TEXT NOT NULL,
  peer BIGINT NOT NULL, reason TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS {p}audit_job ON {p}audit (job_id);
CREATE TABLE IF NOT EXISTS {p}policy (id INTEGER PRIMARY KEY, text TEXT NOT NULL, updated {real} NOT NULL);
"""
_MIGRATIONS: tuple[tuple[str, str], ...] = (
    ("jobs, parties, tasks, metrics, models, seen ids, tokens, audit, policy", _SCHEMA_V1),
    # The scheduler, liveness checks and the coordinator poll list_jobs(states=...) and
    # count_jobs(state); without it each poll scans every job the party ever ran.
    ("index jobs by state", "CREATE INDEX {p}jobs_state ON {p}jobs (state, created)"),
    (
        "task log lines",
        "CREATE TABLE {p}task_log (job_id TEXT NOT NULL, party_id BIGINT NOT NULL, task_name TEXT NOT NULL, "
        "seq BIGINT NOT NULL, time {real} NOT NULL, attempt INTEGER NOT NULL, line TEXT NOT NULL, "
        "PRIMARY KEY (job_id, party_id, task_name, seq))",
    ),
)
_TABLES = (
    "jobs",
    "parties",
    "tasks",
    "metrics",
    "models",
    "seen",
    "tokens",
    "audit",
    "policy",
    "task_log",
    "schema_version",
)
_TOKEN_COLS = "token_id, name, role, digest, created, revoked"
_JOB_COLS = "job_id, spec, state, initiator, created, updated, message"
_TASK_COLS = (
    "job_id, party_id, task_name, component, role, state, attempt, node_id, started, ended, "
    "message, summary, outputs, progress"
)


class SqlJobStore(JobStore):
    def __init__(self, url: str, *, table_prefix: str = "flow_") -> None:
        self._p = table_prefix
        self._lock = threading.RLock()
        self._url = url
        if url.startswith("sqlite:///"):
            self.dialect = "sqlite"
            target = url.removeprefix("sqlite:///")
            if target != ":memory:":
                Path(target).parent.mkdir(parents=True, exist_ok=True)
            self._sqlite = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
            self._sqlite.execute("PRAGMA journal_mode=WAL")
            self._sqlite.execute("PRAGMA busy_timeout=5000")
            types = {"blob": "BLOB", "real": "REAL", "serial": "INTEGER PRIMARY KEY AUTOINCREMENT"}
        elif url.startswith(("postgresql://", "postgres://")):
            self.dialect = "postgres"
            import psycopg

            try:
                self._pg = psycopg.connect(url, autocommit=True, connect_timeout=5)
            except psycopg.OperationalError as exc:
                raise RetryableError(f"cannot connect to the flow database: {exc}".splitlines()[0]) from None
            types = {"blob": "BYTEA", "real": "DOUBLE PRECISION", "serial": "BIGSERIAL PRIMARY KEY"}
        else:
            raise InvalidInput("SILOBRIDGE_DB_URL: use sqlite:///<path> or postgresql://...")
        try:
            #: The schema version this store is at (after migrating it, at open).
            self.schema_version = migrate(
                _SchemaDb(self),
                _steps(self._p, types),
                table=f"{self._p}schema_version",
                what=f"flow database ({self.dialect}, table prefix {self._p!r})",
            )
        except BaseException:
            self.close()
            raise

    # ----- plumbing ---------------------------------------------------------------------------
    def _sql(self, sql: str) -> str:
        sql = sql.replace("{p}", self._p)
        return sql.replace("?", "%s") if self.dialect == "postgres" else sql

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> None:
        if self.dialect == "sqlite":
            self._sqlite.execute(self._sql(sql), tuple(params))
        else:
            self._pg.execute(self._sql(sql), tuple(params))  # type: ignore[arg-type]

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if self.dialect == "sqlite":
            return list(self._sqlite.execute(self._sql(sql), tuple(params)).fetchall())
        return list(self._pg.execute(self._sql(sql), tuple(params)).fetchall())  # type: ignore[arg-type]

    @contextlib.contextmanager
    def _tx(self) -> Iterator[None]:
        with self._lock:
            if self.dialect == "postgres":
                with self._pg.transaction():
                    yield
                return
            self._sqlite.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._sqlite.execute("ROLLBACK")
                raise
            self._sqlite.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            if self.dialect == "sqlite":
                self._sqlite.close()
            else:
                self._pg.close()

    def drop_all(self) -> None:
        """Tests: remove this prefix's tables."""
        with self._tx():
            for table in _TABLES:
                self._exec(f"DROP TABLE IF EXISTS {{p}}{table}")

    # ----- jobs -------------------------------------------------------------------------------
    def create_job(self, job: JobRecord, parties: list[PartyRecord], tasks: list[TaskRecord]) -> None:
        with self._tx():
            if self._all("SELECT 1 FROM {p}jobs WHERE job_id = ?", (job.job_id,)):
                raise Conflict(f"job {job.job_id} already exists")
            self._exec(
                f"INSERT INTO {{p}}jobs ({_JOB_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (job.job_id, job.spec, job.state, job.initiator, job.created, job.updated, job.message),
            )
            for party in parties:
                self._put_party(party)
            for task in tasks:
                self._put_task(task)

    def get_job(self, job_id: str) -> JobRecord | None:
        with self._lock:
            rows = self._all(f"SELECT {_JOB_COLS} FROM {{p}}jobs WHERE job_id = ?", (job_id,))
        return _job(rows[0]) if rows else None

    def list_jobs(self, *, limit: int = 100, states: tuple[str, ...] = ()) -> list[JobRecord]:
        where = f"WHERE state IN ({', '.join('?' * len(states))})" if states else ""
        sql = f"SELECT {_JOB_COLS} FROM {{p}}jobs {where} ORDER BY created DESC, job_id DESC LIMIT ?"
        with self._lock:
            rows = self._all(sql, (*states, int(limit)))
        return [_job(r) for r in rows]

    def set_job_state(self, job_id: str, state: str, message: str = "") -> JobRecord:
        with self._tx():
            rows = self._all(f"SELECT {_JOB_COLS} FROM {{p}}jobs WHERE job_id = ?", (job_id,))
            if not rows:
                raise NotFound(f"no job {job_id}")
            job = _job(rows[0])
            if job.state == state:
                return job
            check_job_transition(job_id, job.state, state)
            job.state, job.updated = state, time.time()
            job.message = message or job.message
            self._exec(
                "UPDATE {p}jobs SET state = ?, updated = ?, message = ? WHERE job_id = ?",
                (job.state, job.updated, job.message, job_id),
            )
            return job

    def count_jobs(self, state: str) -> int:
        with self._lock:
            return int(self._all("SELECT COUNT(*) FROM {p}jobs WHERE state = ?", (state,))[0][0])

    # ----- parties ----------------------------------------------------------------------------
    def _put_party(self, p: PartyRecord) -> None:
        self._exec(
            "INSERT INTO {p}parties (job_id, party_id, role, state, message) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (job_id, party_id) DO UPDATE SET role = excluded.role, state = excluded.state, "
            "message = excluded.message",
            (p.job_id, p.party_id, p.role, p.state, p.message),
        )

    def set_party_state(self, job_id: str, party_id: int, state: str, message: str = "") -> None:
        with self._tx():
            self._exec(
                "UPDATE {p}parties SET state = ?, message = ? WHERE job_id = ? AND party_id = ?",
                (state, message, job_id, party_id),
            )

    def list_parties(self, job_id: str) -> list[PartyRecord]:
        with self._lock:
            rows = self._all(
                "SELECT job_id, party_id, role, state, message FROM {p}parties WHERE job_id = ? ORDER BY party_id",
                (job_id,),
            )
        return [PartyRecord(r[0], int(r[1]), r[2], r[3], r[4]) for r in rows]

    # ----- tasks ------------------------------------------------------------------------------
    def _put_task(self, t: TaskRecord) -> None:
        cols = _TASK_COLS.split(", ")
        updates = ", ".join(f"{c} = excluded.{c}" for c in cols[3:])
        self._exec(
            f"INSERT INTO {{p}}tasks ({_TASK_COLS}) VALUES ({', '.join('?' * len(cols))}) "
            f"ON CONFLICT (job_id, party_id, task_name) DO UPDATE SET {updates}",
            (
                t.job_id, t.party_id, t.task_name, t.component, t.role, t.state, t.attempt, t.node_id,
                t.started, t.ended, t.message, json.dumps(t.summary), json.dumps(t.outputs), t.progress,
            ),
        )  # fmt: skip

    def put_task(self, task: TaskRecord) -> None:
        with self._tx():
            self._put_task(task)

    def get_task(self, job_id: str, party_id: int, task_name: str) -> TaskRecord | None:
        with self._lock:
            rows = self._all(
                f"SELECT {_TASK_COLS} FROM {{p}}tasks WHERE job_id = ? AND party_id = ? AND task_name = ?",
                (job_id, party_id, task_name),
            )
        return _task(rows[0]) if rows else None

    def list_tasks(self, job_id: str, party_id: int | None = None) -> list[TaskRecord]:
        sql = f"SELECT {_TASK_COLS} FROM {{p}}tasks WHERE job_id = ?"
        params: tuple[Any, ...] = (job_id,)
        if party_id is not None:
            sql, params = sql + " AND party_id = ?", (job_id, party_id)
        with self._lock:
            rows = self._all(sql + " ORDER BY party_id, task_name", params)
        return [_task(r) for r in rows]

    # ----- metrics and models -----------------------------------------------------------------
    def add_metrics(self, job_id: str, party_id: int, task_name: str, points: list[MetricRecord]) -> None:
        with self._tx():
            for m in points:
                self._exec(
                    "INSERT INTO {p}metrics (job_id, party_id, task_name, attempt, name, step, value, time) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (job_id, party_id, task_name, m.attempt, m.name, m.step, m.value, m.time or time.time()),
                )

    def list_metrics(self, job_id: str, party_id: int, task_name: str) -> list[MetricRecord]:
        with self._lock:
            rows = self._all(
                "SELECT name, step, value, attempt, time FROM {p}metrics "
                "WHERE job_id = ? AND party_id = ? AND task_name = ? ORDER BY id",
                (job_id, party_id, task_name),
            )
        return [MetricRecord(r[0], int(r[1]), float(r[2]), int(r[3]), float(r[4])) for r in rows]

    def add_task_log(
        self, job_id: str, party_id: int, task_name: str, attempt: int, lines: list[str]
    ) -> None:
        key = (job_id, party_id, task_name)
        with self._tx():
            rows = self._all(
                "SELECT COALESCE(MAX(seq), 0) FROM {p}task_log WHERE job_id = ? AND party_id = ? AND task_name = ?",
                key,
            )
            seq, now = int(rows[0][0]), time.time()
            for line in lines:
                seq += 1
                self._exec(
                    "INSERT INTO {p}task_log (job_id, party_id, task_name, seq, time, attempt, line) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (*key, seq, now, attempt, line),
                )

    def task_log(
        self, job_id: str, party_id: int, task_name: str, *, after: int = 0, tail: int = 0, limit: int = 1000
    ) -> list[LogLine]:
        where = "WHERE job_id = ? AND party_id = ? AND task_name = ?"
        cols = "SELECT seq, time, attempt, line FROM {p}task_log "
        with self._lock:
            if tail > 0:
                rows = self._all(
                    f"{cols}{where} ORDER BY seq DESC LIMIT ?", (job_id, party_id, task_name, tail)
                )
                rows.reverse()
            else:
                rows = self._all(
                    f"{cols}{where} AND seq > ? ORDER BY seq LIMIT ?",
                    (job_id, party_id, task_name, after, limit),
                )
        return [LogLine(int(r[0]), float(r[1]), int(r[2]), str(r[3])) for r in rows]

    def put_model(self, job_id: str, task_name: str, party_id: int, data: bytes) -> None:
        with self._tx():
            self._exec(
                "INSERT INTO {p}models (job_id, task_name, party_id, data, created) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (job_id, task_name, party_id) DO UPDATE SET data = excluded.data, "
                "created = excluded.created",
                (job_id, task_name, party_id, bytes(data), time.time()),
            )

    def get_model(self, job_id: str, task_name: str, party_id: int) -> bytes | None:
        with self._lock:
            rows = self._all(
                "SELECT data FROM {p}models WHERE job_id = ? AND task_name = ? AND party_id = ?",
                (job_id, task_name, party_id),
            )
        return bytes(rows[0][0]) if rows else None

    def list_models(self, job_id: str) -> list[ModelRecord]:
        with self._lock:
            rows = self._all(
                "SELECT job_id, task_name, party_id, LENGTH(data), created FROM {p}models "
                "WHERE job_id = ? ORDER BY task_name, party_id",
                (job_id,),
            )
        return [ModelRecord(r[0], r[1], int(r[2]), int(r[3]), float(r[4])) for r in rows]

    # ----- control message idempotency --------------------------------------------------------
    def message_seen(self, message_id: str) -> bool:
        with self._lock:
            return bool(self._all("SELECT 1 FROM {p}seen WHERE message_id = ?", (message_id,)))

    def remember_message(self, message_id: str) -> None:
        with self._tx():
            self._exec(
                "INSERT INTO {p}seen (message_id, time) VALUES (?, ?) ON CONFLICT (message_id) DO NOTHING",
                (message_id, time.time()),
            )

    # ----- credentials, audit, policy ---------------------------------------------------------
    def add_token(self, token: TokenRecord) -> None:
        with self._tx():
            if self._all("SELECT 1 FROM {p}tokens WHERE name = ? AND revoked = 0", (token.name,)):
                raise Conflict(f"an active token named {token.name} already exists")
            self._exec(
                f"INSERT INTO {{p}}tokens ({_TOKEN_COLS}) VALUES (?, ?, ?, ?, ?, ?)",
                (token.token_id, token.name, token.role, token.digest, token.created, token.revoked),
            )

    def token_by_digest(self, digest: str) -> TokenRecord | None:
        with self._lock:
            rows = self._all(f"SELECT {_TOKEN_COLS} FROM {{p}}tokens WHERE digest = ?", (digest,))
        return _token(rows[0]) if rows else None

    def list_tokens(self) -> list[TokenRecord]:
        with self._lock:
            rows = self._all(f"SELECT {_TOKEN_COLS} FROM {{p}}tokens ORDER BY created, token_id")
        return [_token(r) for r in rows]

    def revoke_token(self, token_id_or_name: str) -> TokenRecord:
        with self._tx():
            rows = self._all(
                f"SELECT {_TOKEN_COLS} FROM {{p}}tokens WHERE (token_id = ? OR name = ?) AND revoked = 0",
                (token_id_or_name, token_id_or_name),
            )
            if not rows:
                raise NotFound(f"no active token {token_id_or_name}")
            token = _token(rows[0])
            token.revoked = time.time()
            self._exec("UPDATE {p}tokens SET revoked = ? WHERE token_id = ?", (token.revoked, token.token_id))
            return token

    def add_audit(self, record: AuditRecord) -> None:
        with self._tx():
            self._exec(
                "INSERT INTO {p}audit (time, actor, action, job_id, peer, reason) VALUES (?, ?, ?, ?, ?, ?)",
                (record.time, record.actor, record.action, record.job_id, record.peer, record.reason),
            )

    def list_audit(self, *, limit: int = 100, job_id: str = "") -> list[AuditRecord]:
        where, params = ("WHERE job_id = ?", (job_id,)) if job_id else ("", ())
        with self._lock:
            rows = self._all(
                f"SELECT time, actor, action, job_id, peer, reason FROM {{p}}audit {where} "
                "ORDER BY id DESC LIMIT ?",
                (*params, int(limit)),
            )
        return [AuditRecord(float(r[0]), r[1], r[2], r[3], int(r[4]), r[5]) for r in rows]

    def get_policy(self) -> str | None:
        with self._lock:
            rows = self._all("SELECT text FROM {p}policy WHERE id = 1")
        return str(rows[0][0]) if rows else None

    def put_policy(self, text: str) -> None:
        with self._tx():
            self._exec(
                "INSERT INTO {p}policy (id, text, updated) VALUES (1, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET text = excluded.text, updated = excluded.updated",
                (text, time.time()),
            )


def _steps(prefix: str, types: dict[str, str]) -> list[Migration]:
    return [
        Migration(
            version,
            description,
            tuple(s for s in sql.format(p=prefix, **types).split(";") if s.strip()),
        )
        for version, (description, sql) in enumerate(_MIGRATIONS, 1)
    ]


class _SchemaDb:
    """The store's connection as ``silobridge.migrations`` uses it."""

    def __init__(self, store: SqlJobStore) -> None:
        self._store = store

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._store._exec(sql, params)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._store._all(sql, params)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with self._store._tx():
            if self._store.dialect == "postgres":  # SQLite's BEGIN IMMEDIATE already excludes
                self._store._exec(
                    "SELECT pg_advisory_xact_lock(hashtext(?))", (f"silobridge-schema:{self._store._p}",)
                )
            yield


def _token(r: tuple[Any, ...]) -> TokenRecord:
    return TokenRecord(r[0], r[1], r[2], r[3], float(r[4]), float(r[5]))


def _job(r: tuple[Any, ...]) -> JobRecord:
    return JobRecord(r[0], bytes(r[1]), r[2], int(r[3]), float(r[4]), float(r[5]), r[6])


def _task(r: tuple[Any, ...]) -> TaskRecord:
    return TaskRecord(
        job_id=r[0], party_id=int(r[1]), task_name=r[2], component=r[3], role=r[4], state=r[5],
        attempt=int(r[6]), node_id=r[7], started=float(r[8]), ended=float(r[9]), message=r[10],
        summary=json.loads(r[11]), outputs=json.loads(r[12]), progress=float(r[13]),
    )  # fmt: skip
