"""One contract for both stores; the SQLite one also survives being reopened."""

from __future__ import annotations

from pathlib import Path

import pytest

from cluster_manager.allocation import parse_table_name
from cluster_manager.memory_store import MemoryClusterStore
from cluster_manager.sqlite_store import SqliteClusterStore
from cluster_manager.store import ClusterStore
from silobridge.cluster.v1 import cluster_pb2 as pb
from silobridge.errors import InvalidInput


def _table(ns: str, name: str, node: str = "n1") -> pb.TableMeta:
    return pb.TableMeta(
        namespace=ns,
        name=name,
        columns=[pb.ColumnSchema(name="x0", dtype="float64")],
        partitions=[pb.PartitionMeta(index=0, node_id=node, rows=7)],
        rows=7,
    )


class StoreContract:
    def make(self, tmp_path: Path) -> ClusterStore:
        raise NotImplementedError

    def test_nodes_round_trip_and_replace(self, tmp_path: Path) -> None:
        store = self.make(tmp_path)
        store.put_node(pb.NodeInfo(node_id="b", cpus=4, state=pb.NODE_STATE_ALIVE))
        store.put_node(pb.NodeInfo(node_id="a", cpus=2))
        store.put_node(pb.NodeInfo(node_id="b", cpus=8, state=pb.NODE_STATE_LOST))
        assert [n.node_id for n in store.list_nodes()] == ["a", "b"]
        got = store.get_node("b")
        assert got is not None and got.cpus == 8 and got.state == pb.NODE_STATE_LOST
        assert store.get_node("zzz") is None

    def test_returned_records_are_copies(self, tmp_path: Path) -> None:
        store = self.make(tmp_path)
        node = pb.NodeInfo(node_id="a", cpus=2)
        store.put_node(node)
        node.cpus = 99
        got = store.get_node("a")
        assert got is not None
        got.cpus = 50
        again = store.get_node("a")
        assert again is not None and again.cpus == 2

    def test_sessions(self, tmp_path: Path) -> None:
        store = self.make(tmp_path)
        store.put_session(pb.ComputeSession(session_id="s1", node_ids=["a", "b"], deadline_unix=5.0, cpus=2))
        got = store.get_session("s1")
        assert got is not None and list(got.node_ids) == ["a", "b"] and got.deadline_unix == 5.0
        assert store.delete_session("s1") is True
        assert store.delete_session("s1") is False
        assert store.list_sessions() == []

    def test_tables_by_namespace(self, tmp_path: Path) -> None:
        store = self.make(tmp_path)
        store.put_table(_table("ns2", "t"))
        store.put_table(_table("ns1", "b"))
        store.put_table(_table("ns1", "a"))
        assert [(t.namespace, t.name) for t in store.list_tables()] == [
            ("ns1", "a"),
            ("ns1", "b"),
            ("ns2", "t"),
        ]
        assert [t.name for t in store.list_tables("ns1")] == ["a", "b"]
        got = store.get_table("ns2", "t")
        assert got is not None and got.partitions[0].rows == 7
        assert store.delete_table("ns2", "t") is True
        assert store.get_table("ns2", "t") is None


class TestMemoryStore(StoreContract):
    def make(self, tmp_path: Path) -> ClusterStore:
        return MemoryClusterStore()


class TestSqliteStore(StoreContract):
    def make(self, tmp_path: Path) -> ClusterStore:
        return SqliteClusterStore(tmp_path / "cm.sqlite3")

    def test_state_survives_reopening(self, tmp_path: Path) -> None:
        store = self.make(tmp_path)
        store.put_node(pb.NodeInfo(node_id="a", cpus=2))
        store.put_session(pb.ComputeSession(session_id="s", node_ids=["a"]))
        store.put_table(_table("ns", "t"))
        store.close()
        again = self.make(tmp_path)
        assert [n.node_id for n in again.list_nodes()] == ["a"]
        assert again.get_session("s") is not None
        assert [t.name for t in again.list_tables("ns")] == ["t"]
        again.close()

    def test_uses_write_ahead_log(self, tmp_path: Path) -> None:
        store = self.make(tmp_path)
        store.put_node(pb.NodeInfo(node_id="a"))
        assert (tmp_path / "cm.sqlite3-wal").exists()
        store.close()


@pytest.mark.parametrize("bad", ["", "a"])
def test_parse_table_name_rejects_unqualified(bad: str) -> None:
    with pytest.raises(InvalidInput, match=r"namespace\.name"):
        parse_table_name(bad)
