"""The migration test: a flow database made by the previous schema keeps every row through an upgrade.

The previous schema is a frozen copy of the DDL flow shipped before schema versions existed; the
database is created and filled through raw SQL, then opened by the current ``SqlJobStore``.
SQLite always, PostgreSQL when reachable (tests/brokers.py).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from brokers import POSTGRES_URL

from flow.sql_store import SqlJobStore
from flow.store import AuditRecord, JobRecord, MetricRecord, ModelRecord, PartyRecord, TaskRecord, TokenRecord
from silobridge.migrations import SchemaTooNew

CURRENT = 3

# Frozen: flow's DDL before schema versions (sql_store._SCHEMA at that time). Never edit it.
V1_DDL = """
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
V1_TYPES = {
    "sqlite": {"blob": "BLOB", "real": "REAL", "serial": "INTEGER PRIMARY KEY AUTOINCREMENT"},
    "postgres": {"blob": "BYTEA", "real": "DOUBLE PRECISION", "serial": "BIGSERIAL PRIMARY KEY"},
}

SPEC = b"\x00job spec \xff bytes"
MODEL = bytes(range(256)) * 40


@dataclass
class OldDb:
    """A database made by the previous release: raw SQL access and the URL the store opens."""

    url: str
    prefix: str
    dialect: str
    execute: Callable[[str, Sequence[Any]], None]
    query: Callable[[str], list[tuple[Any, ...]]]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def old_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OldDb]:
    prefix = "flow_" if request.param == "sqlite" else f"m{uuid.uuid4().hex[:10]}_"
    if request.param == "sqlite":
        path = tmp_path / "flow.sqlite"
        conn = sqlite3.connect(path, isolation_level=None)

        def execute(sql: str, params: Sequence[Any] = ()) -> None:
            conn.execute(sql, tuple(params))

        def query(sql: str) -> list[tuple[Any, ...]]:
            return list(conn.execute(sql).fetchall())

        db = OldDb(f"sqlite:///{path}", prefix, "sqlite", execute, query)
    else:
        import psycopg

        pg = psycopg.connect(POSTGRES_URL, autocommit=True)

        def execute(sql: str, params: Sequence[Any] = ()) -> None:
            pg.execute(sql.replace("?", "%s"), tuple(params))  # type: ignore[arg-type]

        def query(sql: str) -> list[tuple[Any, ...]]:
            return list(pg.execute(sql).fetchall())  # type: ignore[arg-type]

        db = OldDb(POSTGRES_URL, prefix, "postgres", execute, query)
    for statement in V1_DDL.format(p=prefix, **V1_TYPES[request.param]).split(";"):
        if statement.strip():
            db.execute(statement, ())
    _fill(db)
    try:
        yield db
    finally:
        if request.param == "postgres":
            for table in (*_V1_TABLES, "schema_version"):
                pg.execute(f"DROP TABLE IF EXISTS {prefix}{table}")  # type: ignore[arg-type]
            pg.close()
        else:
            conn.close()


_V1_TABLES = ("jobs", "parties", "tasks", "metrics", "models", "seen", "tokens", "audit", "policy")


def _fill(db: OldDb) -> None:
    """Two jobs with everything a job leaves behind, and the party's credentials and policy."""
    p, x = db.prefix, db.execute
    for job_id, state, created in (("job-old", "SUCCEEDED", 100.0), ("job-new", "RUNNING", 200.0)):
        x(
            f"INSERT INTO {p}jobs (job_id, spec, state, initiator, created, updated, message) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (job_id, SPEC + job_id.encode(), state, 9999, created, created + 5, f"{job_id} note"),
        )
        for party, role in ((9999, "guest"), (10000, "host")):
            x(
                f"INSERT INTO {p}parties (job_id, party_id, role, state, message) VALUES (?, ?, ?, ?, ?)",
                (job_id, party, role, state, ""),
            )
            x(
                f"INSERT INTO {p}tasks (job_id, party_id, task_name, component, role, state, attempt, "
                "node_id, started, ended, message, summary, outputs, progress) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    job_id, party, "lr", "hetero_lr", role, "SUCCESS", 2, "node-1", created + 1,
                    created + 4, "ok", json.dumps({"auc": 0.75}), json.dumps({"model": f"ns.{job_id}"}), 1.0,
                ),
            )  # fmt: skip
        for step, loss in enumerate((0.69, 0.5, 0.25)):
            x(
                f"INSERT INTO {p}metrics (job_id, party_id, task_name, attempt, name, step, value, time) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (job_id, 9999, "lr", 2, "loss", step, loss, created + step),
            )
        x(
            f"INSERT INTO {p}models (job_id, task_name, party_id, data, created) VALUES (?, ?, ?, ?, ?)",
            (job_id, "lr", 9999, MODEL + job_id.encode(), created + 4),
        )
    x(f"INSERT INTO {p}seen (message_id, time) VALUES (?, ?)", ("msg-1", 150.0))
    x(
        f"INSERT INTO {p}tokens (token_id, name, role, digest, created, revoked) VALUES (?, ?, ?, ?, ?, ?)",
        ("tok_a", "alice", "admin", "d" * 64, 10.0, 0.0),
    )
    x(
        f"INSERT INTO {p}tokens (token_id, name, role, digest, created, revoked) VALUES (?, ?, ?, ?, ?, ?)",
        ("tok_b", "bob", "viewer", "e" * 64, 11.0, 12.0),
    )
    x(
        f"INSERT INTO {p}audit (time, actor, action, job_id, peer, reason) VALUES (?, ?, ?, ?, ?, ?)",
        (150.0, "policy", "accept", "job-new", 10000, "rule 1"),
    )
    x(
        f"INSERT INTO {p}policy (id, text, updated) VALUES (?, ?, ?)",
        (1, "default: deny\n", 9.0),
    )


def _open(db: OldDb) -> SqlJobStore:
    return SqlJobStore(db.url, table_prefix=db.prefix)


def _versions(db: OldDb) -> list[int]:
    return [int(r[0]) for r in db.query(f"SELECT version FROM {db.prefix}schema_version ORDER BY version")]


def test_upgrade_keeps_every_job_task_metric_model_and_credential(old_db: OldDb) -> None:
    store = _open(old_db)
    try:
        assert store.schema_version == CURRENT
        assert [j.job_id for j in store.list_jobs()] == ["job-new", "job-old"]
        assert store.get_job("job-old") == JobRecord(
            "job-old", SPEC + b"job-old", "SUCCEEDED", 9999, 100.0, 105.0, "job-old note"
        )
        assert [j.job_id for j in store.list_jobs(states=("RUNNING",))] == ["job-new"]
        assert store.count_jobs("SUCCEEDED") == 1
        for job_id, created in (("job-old", 100.0), ("job-new", 200.0)):
            state = store.get_job(job_id).state  # type: ignore[union-attr]
            assert store.list_parties(job_id) == [
                PartyRecord(job_id, 9999, "guest", state),
                PartyRecord(job_id, 10000, "host", state),
            ]
            assert store.get_task(job_id, 10000, "lr") == TaskRecord(
                job_id, 10000, "lr", "hetero_lr", "host", "SUCCESS", 2, "node-1", created + 1, created + 4,
                "ok", {"auc": 0.75}, {"model": f"ns.{job_id}"}, 1.0,
            )  # fmt: skip
            assert len(store.list_tasks(job_id)) == 2
            assert store.list_metrics(job_id, 9999, "lr") == [
                MetricRecord("loss", step, loss, 2, created + step)
                for step, loss in enumerate((0.69, 0.5, 0.25))
            ]
            assert store.get_model(job_id, "lr", 9999) == MODEL + job_id.encode()
            assert store.list_models(job_id) == [
                ModelRecord(job_id, "lr", 9999, len(MODEL) + len(job_id), created + 4)
            ]
        assert store.message_seen("msg-1") and not store.message_seen("msg-2")
        assert store.token_by_digest("d" * 64) == TokenRecord("tok_a", "alice", "admin", "d" * 64, 10.0)
        assert [t.token_id for t in store.list_tokens()] == ["tok_a", "tok_b"]
        assert store.list_audit() == [AuditRecord(150.0, "policy", "accept", "job-new", 10000, "rule 1")]
        assert store.get_policy() == "default: deny\n"

        # ... and it keeps working on the upgraded tables.
        store.set_job_state("job-new", "SUCCEEDED")
        store.add_metrics("job-new", 9999, "lr", [MetricRecord("auc", 0, 0.8, 2, 300.0)])
        store.put_model("job-new", "lr", 9999, b"v2")
        assert store.count_jobs("SUCCEEDED") == 2
        assert store.list_metrics("job-new", 9999, "lr")[-1].name == "auc"
    finally:
        store.close()
    assert _versions(old_db) == list(range(1, CURRENT + 1))

    again = _open(old_db)  # reopening applies nothing twice
    try:
        assert again.schema_version == CURRENT and again.get_model("job-new", "lr", 9999) == b"v2"
    finally:
        again.close()
    assert _versions(old_db) == list(range(1, CURRENT + 1))


@pytest.mark.parametrize("old_db", ["sqlite"], indirect=True)  # PostgreSQL plans by table statistics
def test_version_2_index_serves_the_polling_queries(old_db: OldDb) -> None:
    """count_jobs(state) on every coordinator tick, list_jobs(states=..., limit=10_000) per poll."""
    _open(old_db).close()
    p = old_db.prefix
    # A new connection: one opened before the store added the index plans with the old schema.
    with contextlib.closing(sqlite3.connect(old_db.url.removeprefix("sqlite:///"))) as fresh:
        for sql in (
            f"SELECT COUNT(*) FROM {p}jobs WHERE state = 'RUNNING'",
            f"SELECT job_id FROM {p}jobs WHERE state IN ('ACCEPTED', 'RUNNING') "
            "ORDER BY created DESC, job_id DESC LIMIT 10000",
        ):
            plan = [str(row[-1]) for row in fresh.execute(f"EXPLAIN QUERY PLAN {sql}")]
            assert any(f"INDEX {p}jobs_state (state=?)" in step for step in plan), plan


def _snapshot(db: OldDb) -> dict[str, list[tuple[Any, ...]]]:
    tables = (*_V1_TABLES, "schema_version")
    return {t: sorted(map(tuple, db.query(f"SELECT * FROM {db.prefix}{t}")), key=repr) for t in tables}


def test_a_database_from_a_newer_release_is_refused_and_left_alone(old_db: OldDb) -> None:
    _open(old_db).close()
    old_db.execute(
        f"INSERT INTO {old_db.prefix}schema_version (version, description, applied) VALUES (?, ?, ?)",
        (CURRENT + 1, "from the future", 1.0),
    )
    before = _snapshot(old_db)
    with pytest.raises(
        SchemaTooNew, match=rf"schema version {CURRENT + 1}, but this release knows versions up to {CURRENT}"
    ):
        _open(old_db)
    assert _snapshot(old_db) == before


def test_a_new_database_gets_every_step(tmp_path: Path) -> None:
    store = SqlJobStore(f"sqlite:///{tmp_path / 'new.sqlite'}")
    try:
        assert store.schema_version == CURRENT
    finally:
        store.close()
    conn = sqlite3.connect(tmp_path / "new.sqlite")
    try:
        rows = conn.execute(
            "SELECT version, description FROM flow_schema_version ORDER BY version"
        ).fetchall()
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    finally:
        conn.close()
    assert [r[0] for r in rows] == list(range(1, CURRENT + 1))
    assert {"flow_jobs_created", "flow_jobs_state", "flow_metrics_task", "flow_audit_job"} <= indexes
