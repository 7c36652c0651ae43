"""SQLite store (stdlib sqlite3, WAL): the cluster-manager's state survives a restart.

Each row holds the serialised protobuf record plus the key columns it is looked up by. The
cluster-manager is a single writer on one event loop, so one connection suffices.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TypeVar

from google.protobuf.message import DecodeError, Message

from cluster_manager.store import ClusterStore
from silobridge.cluster.v1 import cluster_pb2 as pb
from silobridge.errors import IntegrityError
from silobridge.migrations import Migration, SqliteSchemaDb, migrate

M = TypeVar("M", bound=Message)

#: The schema, one step per version (silobridge.migrations). A released step is never edited:
#: a change is a new step at the end.
MIGRATIONS = (
    Migration(
        1,
        "nodes, sessions and tables",
        (
            "CREATE TABLE IF NOT EXISTS nodes (node_id TEXT PRIMARY KEY, record BLOB NOT NULL)",
            "CREATE TABLE IF NOT EXISTS sessions (session_id TEXT PRIMARY KEY, record BLOB NOT NULL)",
            "CREATE TABLE IF NOT EXISTS tables (namespace TEXT NOT NULL, name TEXT NOT NULL,"
            " record BLOB NOT NULL, PRIMARY KEY (namespace, name))",
        ),
    ),
)


def _parse(kind: type[M], blob: bytes, what: str) -> M:
    msg = kind()
    try:
        msg.ParseFromString(blob)
    except DecodeError:
        raise IntegrityError(f"cluster-manager database holds a corrupt {what} record") from None
    return msg


class SqliteClusterStore(ClusterStore):
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        try:
            #: The schema version this store is at (after migrating it, at open).
            self.schema_version = migrate(
                SqliteSchemaDb(self._db), MIGRATIONS, what=f"cluster-manager database {path}"
            )
        except BaseException:
            self._db.close()
            raise

    def close(self) -> None:
        self._db.close()

    # ----- nodes ---------------------------------------------------------------------------
    def put_node(self, node: pb.NodeInfo) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO nodes (node_id, record) VALUES (?, ?)",
            (node.node_id, node.SerializeToString()),
        )

    def get_node(self, node_id: str) -> pb.NodeInfo | None:
        row = self._db.execute("SELECT record FROM nodes WHERE node_id = ?", (node_id,)).fetchone()
        return None if row is None else _parse(pb.NodeInfo, row[0], "node")

    def list_nodes(self) -> list[pb.NodeInfo]:
        rows = self._db.execute("SELECT record FROM nodes ORDER BY node_id").fetchall()
        return [_parse(pb.NodeInfo, r[0], "node") for r in rows]

    # ----- sessions ------------------------------------------------------------------------
    def put_session(self, session: pb.ComputeSession) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO sessions (session_id, record) VALUES (?, ?)",
            (session.session_id, session.SerializeToString()),
        )

    def get_session(self, session_id: str) -> pb.ComputeSession | None:
        row = self._db.execute("SELECT record FROM sessions WHERE session_id = ?", (session_id,)).fetchone()
        return None if row is None else _parse(pb.ComputeSession, row[0], "session")

    def delete_session(self, session_id: str) -> bool:
        return self._db.execute("DELETE FROM sessions WHERE session_id = ?", (session_id,)).rowcount > 0

    def list_sessions(self) -> list[pb.ComputeSession]:
        rows = self._db.execute("SELECT record FROM sessions ORDER BY session_id").fetchall()
        return [_parse(pb.ComputeSession, r[0], "session") for r in rows]

    # ----- tables --------------------------------------------------------------------------
    def put_table(self, table: pb.TableMeta) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO tables (namespace, name, record) VALUES (?, ?, ?)",
            (table.namespace, table.name, table.SerializeToString()),
        )

    def get_table(self, namespace: str, name: str) -> pb.TableMeta | None:
        row = self._db.execute(
            "SELECT record FROM tables WHERE namespace = ? AND name = ?", (namespace, name)
        ).fetchone()
        return None if row is None else _parse(pb.TableMeta, row[0], "table")

    def delete_table(self, namespace: str, name: str) -> bool:
        cur = self._db.execute("DELETE FROM tables WHERE namespace = ? AND name = ?", (namespace, name))
        return cur.rowcount > 0

    def list_tables(self, namespace: str = "") -> list[pb.TableMeta]:
        if namespace:
            rows = self._db.execute(
                "SELECT record FROM tables WHERE namespace = ? ORDER BY name", (namespace,)
            ).fetchall()
        else:
            rows = self._db.execute("SELECT record FROM tables ORDER BY namespace, name").fetchall()
        return [_parse(pb.TableMeta, r[0], "table") for r in rows]
