"""One store contract, run against SQLite always and PostgreSQL when reachable (tests/brokers.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from brokers import POSTGRES_URL

from flow.sql_store import SqlJobStore
from flow.store import AuditRecord, JobRecord, MetricRecord, PartyRecord, TaskRecord, TokenRecord
from silobridge.errors import Conflict, NotFound


def _postgres_store() -> SqlJobStore:
    return SqlJobStore(POSTGRES_URL, table_prefix=f"t{uuid.uuid4().hex[:10]}_")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlJobStore]:
    s = (
        SqlJobStore(f"sqlite:///{tmp_path / 'flow.sqlite'}")
        if request.param == "sqlite"
        else _postgres_store()
    )
    try:
        yield s
    finally:
        s.drop_all()
        s.close()


def job(job_id: str, created: float, state: str = "PROPOSED") -> JobRecord:
    return JobRecord(job_id, b"\x00spec\xff", state, 9999, created, created)


def test_create_get_and_list_newest_first(store: SqlJobStore) -> None:
    store.create_job(
        job("a", 1.0),
        [PartyRecord("a", 9999, "guest", "ACCEPTED")],
        [TaskRecord("a", 9999, "t", "reader", "guest")],
    )
    store.create_job(job("b", 2.0), [], [])
    assert store.get_job("a") == job("a", 1.0)
    assert [j.job_id for j in store.list_jobs()] == ["b", "a"]
    assert store.get_job("zzz") is None
    with pytest.raises(Conflict, match="job a already exists"):
        store.create_job(job("a", 3.0), [], [])
    assert store.get_job("a").created == 1.0  # type: ignore[union-attr]


def test_create_is_atomic(store: SqlJobStore) -> None:
    good = TaskRecord("c", 9999, "t", "reader", "guest")
    bad = TaskRecord("c", 9999, "u", "reader", "guest", summary={"x": object()})  # type: ignore[dict-item]
    with pytest.raises(TypeError):  # fails after the job row was written, inside the transaction
        store.create_job(job("c", 1.0), [PartyRecord("c", 9999, "guest", "ACCEPTED")], [good, bad])
    assert store.get_job("c") is None and store.list_tasks("c") == [] and store.list_parties("c") == []


def test_transitions_are_validated(store: SqlJobStore) -> None:
    store.create_job(job("a", 1.0), [], [])
    assert store.set_job_state("a", "ACCEPTED").state == "ACCEPTED"
    assert store.set_job_state("a", "ACCEPTED").state == "ACCEPTED"  # same state: no-op
    with pytest.raises(Conflict, match="job a is ACCEPTED: it cannot become SUCCEEDED"):
        store.set_job_state("a", "SUCCEEDED")
    store.set_job_state("a", "RUNNING")
    done = store.set_job_state("a", "FAILED", "task t failed")
    assert (done.state, done.message) == ("FAILED", "task t failed")
    with pytest.raises(Conflict):
        store.set_job_state("a", "RUNNING")
    with pytest.raises(NotFound):
        store.set_job_state("nope", "RUNNING")
    assert store.count_jobs("FAILED") == 1 and store.list_jobs(states=("RUNNING",)) == []


def test_parties_tasks_metrics_models_and_seen_ids(store: SqlJobStore) -> None:
    store.create_job(
        job("a", 1.0),
        [PartyRecord("a", 10000, "host", "PROPOSED"), PartyRecord("a", 9999, "guest", "ACCEPTED")],
        [],
    )
    store.set_party_state("a", 10000, "REFUSED", "unknown party")
    assert [(p.party_id, p.state, p.message) for p in store.list_parties("a")] == [
        (9999, "ACCEPTED", ""),
        (10000, "REFUSED", "unknown party"),
    ]
    t = TaskRecord(
        "a", 9999, "lr", "hetero_lr", "guest", state="RUNNING", attempt=2, node_id="n1", started=5.0
    )
    store.put_task(t)
    t.state, t.summary, t.outputs = "SUCCEEDED", {"auc": 0.91}, {"data": "job_a.lr_data"}
    store.put_task(t)
    store.put_task(TaskRecord("a", 10000, "lr", "hetero_lr", "host"))
    assert store.get_task("a", 9999, "lr") == t
    assert [x.party_id for x in store.list_tasks("a")] == [9999, 10000]
    assert [x.party_id for x in store.list_tasks("a", 10000)] == [10000]

    store.add_metrics(
        "a", 9999, "lr", [MetricRecord("loss", 0, 0.7, 2, 10.0), MetricRecord("loss", 1, 0.5, 2, 11.0)]
    )
    store.add_metrics("a", 9999, "lr", [MetricRecord("loss", 2, 0.4, 2, 12.0)])
    assert [(m.step, m.value) for m in store.list_metrics("a", 9999, "lr")] == [(0, 0.7), (1, 0.5), (2, 0.4)]
    assert store.list_metrics("a", 10000, "lr") == []

    store.put_model("a", "lr", 9999, b"\x01\x02")
    store.put_model("a", "lr", 9999, b"\x01\x02\x03")
    assert store.get_model("a", "lr", 9999) == b"\x01\x02\x03"
    assert [(m.task_name, m.size) for m in store.list_models("a")] == [("lr", 3)]
    assert store.get_model("a", "lr", 10000) is None

    assert not store.message_seen("m1")
    store.remember_message("m1")
    store.remember_message("m1")
    assert store.message_seen("m1")


def test_tokens_are_found_by_digest_and_revoked_by_id_or_name(store: SqlJobStore) -> None:
    store.add_token(TokenRecord("tok_a", "alice", "admin", "d" * 64, 1.0))
    store.add_token(TokenRecord("tok_b", "bob", "viewer", "e" * 64, 2.0))
    with pytest.raises(Conflict, match="an active token named bob already exists"):
        store.add_token(TokenRecord("tok_c", "bob", "operator", "f" * 64, 3.0))
    assert store.token_by_digest("d" * 64) == TokenRecord("tok_a", "alice", "admin", "d" * 64, 1.0)
    assert store.token_by_digest("0" * 64) is None
    assert store.revoke_token("bob").revoked > 0
    assert store.revoke_token("tok_a").name == "alice"
    with pytest.raises(NotFound, match="no active token bob"):
        store.revoke_token("bob")
    store.add_token(TokenRecord("tok_c", "bob", "operator", "f" * 64, 3.0))  # the name is free again
    assert [(t.token_id, t.revoked > 0) for t in store.list_tokens()] == [
        ("tok_a", True),
        ("tok_b", True),
        ("tok_c", False),
    ]


def test_audit_is_newest_first_and_by_job_and_the_policy_is_replaced(store: SqlJobStore) -> None:
    store.add_audit(AuditRecord(1.0, "policy", "refuse", "j1", 9999, "no rule"))
    store.add_audit(AuditRecord(2.0, "ops", "approve", "j2", 9999))
    store.add_audit(AuditRecord(3.0, "admin", "policy_set"))
    assert [a.action for a in store.list_audit()] == ["policy_set", "approve", "refuse"]
    assert store.list_audit(job_id="j1") == [AuditRecord(1.0, "policy", "refuse", "j1", 9999, "no rule")]
    assert [a.action for a in store.list_audit(limit=1)] == ["policy_set"]
    assert store.get_policy() is None
    store.put_policy("default: deny\n")
    store.put_policy("default: hold\n")
    assert store.get_policy() == "default: hold\n"
