"""StoreTable / DeleteTable as flow sees them: a ClusterReply per command, files on disk."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
from nm_support import NODE, FakeCluster, command, store_cmd

from node_manager.service import NodeManagerService
from node_manager.storage import TableStorage
from silobridge import topics
from silobridge.bus.memory import MemoryBus
from silobridge.bus.rpc import RpcClient
from silobridge.cluster.v1 import cluster_pb2 as cpb
from silobridge.errors import InvalidInput
from silobridge.node.v1 import node_pb2 as pb


def table_files(node: NodeManagerService) -> list[str]:
    root = node.settings.data_dir / "tables"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def test_store_partitions_and_registers(
    node: NodeManagerService, cluster: FakeCluster, rpc: RpcClient
) -> None:
    reply = await command(rpc, store_cmd(partitions=2))
    meta = reply.table
    assert reply.WhichOneof("reply") == "table"
    assert (meta.namespace, meta.name, meta.rows) == ("ns", "t", 5)
    assert [(c.name, c.dtype) for c in meta.columns] == [
        ("id", "string"),
        ("x0", "float64"),
        ("x1", "float64"),
        ("y", "float64"),
    ]
    assert (meta.id_column, meta.label_column) == ("id", "y")
    assert [(p.index, p.node_id) for p in meta.partitions] == [(0, NODE), (1, NODE)]
    assert sum(p.rows for p in meta.partitions) == 5
    assert table_files(node) == ["ns/t/part-0.npz", "ns/t/part-1.npz"]
    assert ("ns", "t") in cluster.tables
    loaded = node.storage.load("ns", "t")
    assert list(loaded.ids) == ["a", "b", "c", "d", "e"]
    np.testing.assert_array_equal(loaded.features[:, 1], [2, 4, 6, 8, 10])
    np.testing.assert_array_equal(loaded.label, [0, 1, 0, 1, 0])


async def test_non_numeric_feature_is_named_and_nothing_stored(
    node: NodeManagerService, cluster: FakeCluster, rpc: RpcClient
) -> None:
    bad = b"id,age,city\n1,30,7\n2,41,Paris\n"
    reply = await command(rpc, store_cmd(csv=bad, label=""))
    assert reply.error.code == "invalid_input"
    assert (
        "'city'" in reply.error.message and "line 3" in reply.error.message and "ns.t" in reply.error.message
    )
    assert table_files(node) == []
    assert "put_table_meta" not in cluster.kinds()


async def test_other_csv_errors(node: NodeManagerService, rpc: RpcClient) -> None:
    no_id = await command(rpc, store_cmd(csv=b"key,x\n1,2\n", label=""))
    assert "id column 'id' not found" in no_id.error.message
    no_label = await command(rpc, store_cmd(csv=b"id,x\n1,2\n", label="y"))
    assert "label column 'y'" in no_label.error.message
    empty = await command(rpc, store_cmd(csv=b""))
    assert "no CSV data" in empty.error.message
    bad_name = await command(rpc, store_cmd(name="../etc"))
    assert bad_name.error.code == "invalid_input" and "table name" in bad_name.error.message
    assert table_files(node) == []


async def test_more_partitions_than_rows(node: NodeManagerService, rpc: RpcClient) -> None:
    reply = await command(rpc, store_cmd(partitions=50))
    assert [p.rows for p in reply.table.partitions] == [1, 1, 1, 1, 1]


async def test_registration_failure_stores_nothing_and_keeps_old_version(
    node: NodeManagerService, cluster: FakeCluster, rpc: RpcClient
) -> None:
    await command(rpc, store_cmd())
    cluster.fail_put = True
    reply = await command(rpc, store_cmd(csv=b"id,x0,x1,y\nz,0,0,1\n"))
    assert reply.error.retryable is False and "db down" in reply.error.message
    assert list(node.storage.load("ns", "t").ids) == ["a", "b", "c", "d", "e"]
    assert all(".staging" not in f for f in table_files(node))


async def test_store_replaces_a_table(node: NodeManagerService, rpc: RpcClient) -> None:
    await command(rpc, store_cmd())
    reply = await command(rpc, store_cmd(csv=b"id,x0,x1,y\nz,0,0,1\n"))
    assert reply.table.rows == 1
    assert list(node.storage.load("ns", "t").ids) == ["z"]
    assert table_files(node) == ["ns/t/part-0.npz"]


async def test_delete(node: NodeManagerService, cluster: FakeCluster, rpc: RpcClient) -> None:
    await command(rpc, store_cmd())
    delete = pb.NodeCommand(delete_table=pb.DeleteTable(table=pb.TableRef(namespace="ns", name="t")))
    assert (await command(rpc, delete)).ok
    assert table_files(node) == [] and ("ns", "t") not in cluster.tables
    deletes = [
        r.delete_table_meta for r in cluster.requests if r.WhichOneof("request") == "delete_table_meta"
    ]
    assert [(d.namespace, d.name) for d in deletes] == [("ns", "t")]
    assert cluster.kinds().count("put_table_meta") == 1  # the store's: no empty TableMeta stands in
    again = await command(rpc, delete)
    assert again.error.code == "not_found" and "ns.t" in again.error.message


async def test_delete_of_files_whose_metadata_is_gone(
    node: NodeManagerService, cluster: FakeCluster, rpc: RpcClient
) -> None:
    await command(rpc, store_cmd())
    cluster.tables.clear()  # e.g. the cluster-manager lost its database
    delete = pb.NodeCommand(delete_table=pb.DeleteTable(table=pb.TableRef(namespace="ns", name="t")))
    assert (await command(rpc, delete)).ok
    assert table_files(node) == []


async def test_fire_and_forget_store_and_malformed_command(
    node: NodeManagerService, cluster: FakeCluster, bus: MemoryBus, rpc: RpcClient
) -> None:
    await bus.publish(topics.node_cmd(NODE), store_cmd(name="quiet").SerializeToString())
    for _ in range(200):
        if ("ns", "quiet") in cluster.tables:
            break
        await asyncio.sleep(0.01)
    assert node.storage.exists("ns", "quiet")
    reply = await rpc.request(topics.node_cmd(NODE), b"\xff\xff", timeout=5)
    parsed = cpb.ClusterReply()
    parsed.ParseFromString(reply)
    assert parsed.error.code == "integrity" and "NodeCommand" in parsed.error.message


def test_storage_never_leaves_its_root(tmp_path: Path) -> None:
    storage = TableStorage(tmp_path)
    for ns, name in [("..", "x"), ("ns", "a/b"), ("", "x")]:
        try:
            storage.table_dir(ns, name)
        except InvalidInput:
            continue
        raise AssertionError(f"{ns}/{name} accepted")
