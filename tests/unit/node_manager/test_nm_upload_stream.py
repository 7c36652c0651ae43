"""A large spooled upload is parsed batch by batch and stored partition by partition, in memory
well below the table's own size; a bad row anywhere in it stores nothing."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from nm_support import FakeCluster, command
from test_nm_tables import table_files
from test_nm_uploads import piece, spools

from node_manager import storage
from node_manager.service import NodeManagerService
from silobridge import table_csv
from silobridge.bus.rpc import RpcClient
from silobridge.cluster.v1 import cluster_pb2 as cpb
from silobridge.table import Table

ROWS, FEATURES = 60_000, 20


def big_csv(rows: int = ROWS) -> bytes:
    rng = np.random.default_rng(3)
    values = np.round(rng.standard_normal((rows, FEATURES)), 6)
    head = "id," + ",".join(f"x{j}" for j in range(FEATURES)) + ",y\n"
    body = "".join(f"r{i}," + ",".join(map(str, values[i])) + f",{i % 2}\n" for i in range(rows))
    return (head + body).encode()


async def upload(rpc: RpcClient, data: bytes, uid: str, step: int = 1 << 20) -> cpb.ClusterReply:
    for off in range(0, len(data) - step, step):
        assert (await command(rpc, piece(off, data[off : off + step], uid=uid))).ok
    last = (len(data) - 1) // step * step
    return await command(rpc, piece(last, data[last:], last=True, uid=uid))


def as_numpy(rows: int) -> int:
    """The table's size as numpy arrays: features and label as float64, ids as unicode."""
    return rows * (FEATURES + 1) * 8 + rows * len(f"r{rows}") * 4


async def traced_upload(node: NodeManagerService, data: bytes, uid: str) -> tuple[cpb.TableMeta, int]:
    """The node-manager's own work on 256 KiB pieces (called directly: the bus's request timeout
    is not made for tracemalloc's slowdown), and the peak of what it allocated."""
    step = 256 * 1024
    tracemalloc.start()
    try:
        meta = None
        for off in range(0, len(data), step):
            cmd = piece(off, data[off : off + step], last=off + step >= len(data), uid=uid)
            meta = await node.tables.upload_chunk(cmd.upload_chunk)
        assert meta is not None
        return meta, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def test_a_large_upload_is_stored_in_bounded_memory(
    node: NodeManagerService, cluster: FakeCluster, rpc: RpcClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(table_csv, "BATCH_ROWS", 2_048)
    monkeypatch.setattr(storage, "MAX_PARTITION_ROWS", 4_096)
    small, (reply_small, peak_small) = ROWS // 3, await traced_upload(node, big_csv(ROWS // 3), "small")
    assert reply_small.rows == small
    data = big_csv()
    meta, peak = await traced_upload(node, data, "big")
    assert meta.rows == ROWS and len(meta.partitions) == -(-ROWS // 4_096)
    # Everything this process allocated while spooling, parsing and storing: well below the table
    # as numpy arrays (and the CSV); three times the rows cost the id digests (16 bytes a row) and
    # little else, where the table itself grows by two thirds of its size.
    assert peak < as_numpy(ROWS) / 2 and peak < len(data) / 2, (peak, as_numpy(ROWS), len(data))
    growth = peak - peak_small
    assert growth < (as_numpy(ROWS) - as_numpy(small)) / 5, (peak_small, peak)
    stored = node.storage.load("ns", "t")
    assert stored.rows == ROWS and list(stored.ids[[0, 12_345, ROWS - 1]]) == ["r0", "r12345", f"r{ROWS - 1}"]
    head = b"\n".join(data.split(b"\n", 3)[:3]) + b"\n"  # the header and the first two rows
    first = Table.from_csv(head, id_column="id", label_column="y")
    np.testing.assert_array_equal(stored.features[:2], first.features)
    np.testing.assert_array_equal(stored.label[:4], [0, 1, 0, 1])
    assert spools(node) == []


def _broken(data: bytes, line_no: int, replace: bytes) -> bytes:
    lines = data.split(b"\n")
    lines[line_no - 1] = replace
    return b"\n".join(lines)


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda d: _broken(d, 50_001, b"r50000,1,2"), "CSV line 50001 has 3 fields, the header has 22"),
        (
            lambda d: _broken(d, 40_002, b"r40000," + b"1," * 5 + b"abc," + b"1," * 14 + b"0"),
            "column 'x5' is not numeric: 'abc' on CSV line 40002",
        ),
        (lambda d: d.replace(b"id,", b"key,", 1), "id column 'id' not found in CSV header"),
        (lambda d: d + b"r7," + b"0," * FEATURES + b"1\n", "id column 'id' has duplicate values"),
    ],
)
async def test_a_bad_row_anywhere_stores_nothing(
    node: NodeManagerService, cluster: FakeCluster, rpc: RpcClient, edit: object, needle: str
) -> None:
    assert callable(edit)
    reply = await upload(rpc, edit(big_csv()), "bad")
    assert reply.error.code == "invalid_input", reply
    assert reply.error.message.startswith("table ns.t not stored: ") and needle in reply.error.message
    assert table_files(node) == [] and spools(node) == []
    assert "put_table_meta" not in cluster.kinds()
    assert not any(p.name.startswith(".staging") for p in (node.settings.data_dir / "tables").rglob("*"))


async def test_a_table_name_that_climbs_out_is_refused_before_anything_is_read(
    node: NodeManagerService, cluster: FakeCluster, rpc: RpcClient, tmp_path: Path
) -> None:
    cmd = piece(0, big_csv(10), last=True, uid="trav")
    cmd.upload_chunk.last.table.name = "../../outside"
    reply = await command(rpc, cmd)
    assert reply.error.code == "invalid_input" and "table name" in reply.error.message
    assert table_files(node) == [] and spools(node) == []
    assert not (node.settings.data_dir / "outside").exists()
