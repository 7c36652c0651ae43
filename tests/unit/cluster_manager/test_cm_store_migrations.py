"""The migration test for cluster-manager: a database of the previous schema keeps every record.

The previous schema is a frozen copy of the DDL cluster-manager shipped before schema versions
existed; the database is made and filled through raw SQL, then opened by ``SqliteClusterStore``.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from cluster_manager.sqlite_store import SqliteClusterStore
from silobridge.cluster.v1 import cluster_pb2 as pb
from silobridge.migrations import SchemaTooNew

CURRENT = 1

# Frozen: cluster-manager's DDL before schema versions (sqlite_store.SCHEMA then). Never edit it.
V1_DDL = (
    "CREATE TABLE IF NOT EXISTS nodes (node_id TEXT PRIMARY KEY, record BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sessions (session_id TEXT PRIMARY KEY, record BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS tables (namespace TEXT NOT NULL, name TEXT NOT NULL, record BLOB NOT NULL,"
    " PRIMARY KEY (namespace, name))",
)

NODES = [
    pb.NodeInfo(node_id="node-a", host="10.0.0.1", cpus=8, memory_bytes=2**34, state=pb.NODE_STATE_ALIVE),
    pb.NodeInfo(node_id="node-b", host="10.0.0.2", cpus=4, state=pb.NODE_STATE_LOST, ray_address="ray:6379"),
]
SESSIONS = [
    pb.ComputeSession(session_id="job1.lr.1", node_ids=["node-a", "node-b"], deadline_unix=9e9, cpus=6)
]
TABLES = [
    pb.TableMeta(
        namespace=ns,
        name=name,
        columns=[pb.ColumnSchema(name="x0", dtype="float64"), pb.ColumnSchema(name="y", dtype="int64")],
        id_column="id",
        label_column="y" if ns == "guest" else "",
        partitions=[pb.PartitionMeta(index=i, node_id=f"node-{'ab'[i]}", rows=50) for i in range(2)],
        rows=100,
        created_unix=1.5,
    )
    for ns, name in (("guest", "train"), ("guest", "test"), ("host", "train"))
]


@pytest.fixture
def old_db(tmp_path: Path) -> Path:
    path = tmp_path / "cluster-manager.sqlite"
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        for statement in V1_DDL:
            db.execute(statement)
        for node in NODES:
            db.execute("INSERT INTO nodes VALUES (?, ?)", (node.node_id, node.SerializeToString()))
        for session in SESSIONS:
            db.execute(
                "INSERT INTO sessions VALUES (?, ?)", (session.session_id, session.SerializeToString())
            )
        for table in TABLES:
            db.execute(
                "INSERT INTO tables VALUES (?, ?, ?)",
                (table.namespace, table.name, table.SerializeToString()),
            )
    return path


def _dump(path: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return list(db.iterdump())


def _versions(path: Path) -> list[int]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return [r[0] for r in db.execute("SELECT version FROM schema_version ORDER BY version")]


def test_upgrade_keeps_every_node_session_and_table(old_db: Path) -> None:
    store = SqliteClusterStore(old_db)
    try:
        assert store.schema_version == CURRENT
        assert store.list_nodes() == NODES
        assert store.get_session("job1.lr.1") == SESSIONS[0]
        assert store.list_tables() == sorted(TABLES, key=lambda t: (t.namespace, t.name))
        assert store.get_table("host", "train") == TABLES[2]
        assert [t.name for t in store.list_tables("guest")] == ["test", "train"]
        store.put_node(pb.NodeInfo(node_id="node-c", cpus=2))  # and it keeps working
        assert store.delete_table("guest", "test")
    finally:
        store.close()
    assert _versions(old_db) == [1]
    again = SqliteClusterStore(old_db)
    try:
        assert [n.node_id for n in again.list_nodes()] == ["node-a", "node-b", "node-c"]
        assert len(again.list_tables()) == 2
    finally:
        again.close()
    assert _versions(old_db) == [1]


def test_a_database_from_a_newer_release_is_refused_and_left_alone(old_db: Path) -> None:
    SqliteClusterStore(old_db).close()
    with contextlib.closing(sqlite3.connect(old_db, isolation_level=None)) as db:
        db.execute("INSERT INTO schema_version VALUES (?, ?, ?)", (CURRENT + 1, "from the future", 1.0))
    before = _dump(old_db)
    with pytest.raises(
        SchemaTooNew,
        match=rf"has schema version {CURRENT + 1}, but this release knows versions up to {CURRENT}",
    ):
        SqliteClusterStore(old_db)
    assert _dump(old_db) == before


def test_cluster_manager_refuses_to_start_on_a_newer_database_with_a_startup_exit_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    from cluster_manager.__main__ import main
    from silobridge.service import ExitCode

    SqliteClusterStore(tmp_path / "cluster-manager.sqlite3").close()
    with contextlib.closing(
        sqlite3.connect(tmp_path / "cluster-manager.sqlite3", isolation_level=None)
    ) as db:
        db.execute("INSERT INTO schema_version VALUES (?, ?, ?)", (CURRENT + 1, "from the future", 1.0))
    for key, value in {
        "SILOBRIDGE_DATA_DIR": str(tmp_path),
        "SILOBRIDGE_BUS_URL": "memory://",
        "SILOBRIDGE_LOG_JSON": "false",
    }.items():
        monkeypatch.setenv(key, value)
    assert main() == ExitCode.STARTUP_FAILED
    assert f"has schema version {CURRENT + 1}" in capsys.readouterr().out
