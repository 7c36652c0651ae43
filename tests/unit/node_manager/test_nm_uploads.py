"""UploadChunk at the node-manager: pieces in order, redeliveries acknowledged, gaps refused."""

from __future__ import annotations

from nm_support import CSV, FakeCluster, command

from node_manager.service import NodeManagerService
from silobridge.bus.rpc import RpcClient
from silobridge.node.v1 import node_pb2 as pb


def piece(offset: int, data: bytes, *, last: bool = False, uid: str = "u1") -> pb.NodeCommand:
    chunk = pb.UploadChunk(upload_id=uid, offset=offset, data=data)
    if last:
        chunk.last.CopyFrom(
            pb.StoreTable(table=pb.TableRef(namespace="ns", name="t"), id_column="id", label_column="y")
        )
    return pb.NodeCommand(upload_chunk=chunk)


def spools(node: NodeManagerService) -> list[str]:
    root = node.settings.data_dir / "uploads"
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


async def test_pieces_store_the_table_and_leave_no_spool(
    node: NodeManagerService, cluster: FakeCluster, rpc: RpcClient
) -> None:
    assert (await command(rpc, piece(0, CSV[:20]))).ok
    assert (await command(rpc, piece(0, CSV[:20]))).ok  # redelivered: acknowledged, not appended
    gap = await command(rpc, piece(30, CSV[30:40]))
    assert gap.error.code == "invalid_input" and "20 bytes arrived" in gap.error.message
    reply = await command(rpc, piece(20, CSV[20:], last=True))
    assert reply.WhichOneof("reply") == "table" and reply.table.rows == 5
    assert list(node.storage.load("ns", "t").ids) == ["a", "b", "c", "d", "e"]
    assert spools(node) == []


async def test_abort_drops_the_spool_and_stores_nothing(
    node: NodeManagerService, cluster: FakeCluster, rpc: RpcClient
) -> None:
    await command(rpc, piece(0, CSV[:20], uid="u2"))
    assert spools(node) == ["u2.part"]
    assert (await command(rpc, pb.NodeCommand(upload_chunk=pb.UploadChunk(upload_id="u2", abort=True)))).ok
    assert spools(node) == [] and "put_table_meta" not in cluster.kinds()


async def test_a_malformed_spooled_csv_is_refused_and_removed(
    node: NodeManagerService, cluster: FakeCluster, rpc: RpcClient
) -> None:
    await command(rpc, piece(0, b"id,x,y\n1,2,0\n", uid="u3"))
    reply = await command(rpc, piece(13, b"2,zz,1\n", last=True, uid="u3"))
    assert reply.error.code == "invalid_input" and "line 3" in reply.error.message
    assert spools(node) == [] and "put_table_meta" not in cluster.kinds()
