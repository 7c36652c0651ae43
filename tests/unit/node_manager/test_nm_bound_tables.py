"""BindTable at the node-manager: default deny, what a binding records, tasks reading the source."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from google.protobuf.struct_pb2 import Struct
from nm_support import NODE, FakeCluster, TaskEvents, command, run_cmd

from node_manager.service import NodeManagerService
from node_manager.settings import NodeManagerSettings
from silobridge.bus.memory import MemoryBus
from silobridge.bus.rpc import RpcClient
from silobridge.cluster.v1 import cluster_pb2 as cpb
from silobridge.node.v1 import node_pb2 as pb
from silobridge.observability.metrics import ServiceMetrics


def write_parts(folder: Path, rows: int = 30, files: int = 3) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for f in range(files):
        lo, hi = f * rows // files, (f + 1) * rows // files
        ids = [f"u{i:03d}" for i in range(lo, hi)]
        x = np.arange(lo, hi, dtype=np.float64)
        pq.write_table(
            pa.table(
                {"id": ids, "x0": x, "x1": np.arange(lo, hi, dtype=np.int32), "y": (x % 2).astype(np.int8)}
            ),
            folder / f"part-{f}.parquet",
        )


def bind_cmd(location: Path | str, *, kind: str = "parquet", **fields: object) -> pb.NodeCommand:
    source = cpb.TableSource(kind=kind, location=str(location), **fields.pop("source", {}))  # type: ignore[arg-type]
    return pb.NodeCommand(
        bind_table=pb.BindTable(
            table=pb.TableRef(namespace="bank", name=str(fields.pop("name", "feats"))),
            source=source,
            id_column=str(fields.pop("id_column", "id")),
            label_column=str(fields.pop("label_column", "y")),
            **fields,  # type: ignore[arg-type]
        )
    )


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    folder = tmp_path / "warehouse" / "feats"
    write_parts(folder)
    return folder


@pytest.fixture
async def binder(
    bus: MemoryBus, cluster: FakeCluster, make_settings: Callable[..., NodeManagerSettings], tmp_path: Path
) -> AsyncIterator[NodeManagerService]:
    settings = make_settings(bind_allow=f"{tmp_path / 'warehouse'}, postgresql://db.example:5432/bank")
    svc = NodeManagerService(settings, bus, ServiceMetrics("node-manager", 9999))
    await svc.start()
    await asyncio.wait_for(svc.registered.wait(), 5)
    yield svc
    await svc.stop()


def data_files(node: NodeManagerService) -> list[Path]:
    root = node.settings.data_dir
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def test_bind_records_schema_partitions_and_version_without_copying(
    binder: NodeManagerService, cluster: FakeCluster, rpc: RpcClient, warehouse: Path
) -> None:
    reply = await command(rpc, bind_cmd(warehouse))
    assert reply.WhichOneof("reply") == "table", reply.error.message
    meta = cluster.tables[("bank", "feats")]
    assert [(c.name, c.dtype) for c in meta.columns] == [
        ("id", "string"),
        ("x0", "float64"),
        ("x1", "int64"),
        ("y", "int64"),
    ]
    assert (meta.rows, meta.id_column, meta.label_column) == (30, "id", "y")
    assert [(p.index, p.rows, p.node_id) for p in meta.partitions] == [
        (0, 10, NODE),
        (1, 10, NODE),
        (2, 10, NODE),
    ]
    assert meta.source.kind == "parquet" and meta.source.location == str(warehouse)
    assert meta.source_version.startswith("files:3:")
    assert data_files(binder) == []  # nothing copied into the data directory


async def test_default_deny_registers_nothing(
    node: NodeManagerService, cluster: FakeCluster, rpc: RpcClient, warehouse: Path
) -> None:
    reply = await command(rpc, bind_cmd(warehouse))
    assert reply.error.code == "permission_denied"
    assert "bind_allow" in reply.error.message
    assert "put_table_meta" not in cluster.kinds()


@pytest.mark.parametrize(
    ("cmd", "code", "needle"),
    [
        (lambda w: bind_cmd(w.parent.parent / "elsewhere"), "permission_denied", "not allowed"),
        (lambda w: bind_cmd(f"{w}/../../elsewhere"), "permission_denied", "not allowed"),
        (lambda w: bind_cmd(w, id_column="user"), "invalid_input", "id column 'user' not found"),
        (lambda w: bind_cmd(w, label_column="target"), "invalid_input", "label column 'target' not found"),
        (lambda w: bind_cmd(w, kind="orc"), "invalid_input", "unknown source kind 'orc'"),
        (lambda w: bind_cmd("relative/dir"), "invalid_input", "not an absolute path"),
        (
            lambda w: bind_cmd(
                "postgresql://bob:hunter2@db.example:5432/bank", kind="postgresql", source={"query": "t"}
            ),
            "invalid_input",
            "carries a password",
        ),
        (
            lambda w: bind_cmd(
                "postgresql://db.example:5432/other", kind="postgresql", source={"query": "t"}
            ),
            "permission_denied",
            "db.example:5432/other",
        ),
        (
            lambda w: bind_cmd(
                "postgresql://db.example:5432/bank",
                kind="postgresql",
                source={"query": "t", "secret_ref": "hunter2"},
            ),
            "invalid_input",
            "env:NAME or file:",
        ),
    ],
)
async def test_refused_bindings_name_the_problem_and_register_nothing(
    binder: NodeManagerService,
    cluster: FakeCluster,
    rpc: RpcClient,
    warehouse: Path,
    cmd: Callable[[Path], pb.NodeCommand],
    code: str,
    needle: str,
) -> None:
    (warehouse.parent.parent / "elsewhere").mkdir(exist_ok=True)
    write_parts(warehouse.parent.parent / "elsewhere")
    reply = await command(rpc, cmd(warehouse))
    assert reply.WhichOneof("reply") == "error"
    assert reply.error.code == code and needle in reply.error.message, reply.error.message
    assert "hunter2" not in reply.error.message
    assert "put_table_meta" not in cluster.kinds()


async def test_symlink_out_of_the_allowed_directory_is_refused(
    binder: NodeManagerService, cluster: FakeCluster, rpc: RpcClient, warehouse: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "secret-data"
    write_parts(outside, files=1)
    os.symlink(outside / "part-0.parquet", warehouse / "part-9.parquet")
    reply = await command(rpc, bind_cmd(warehouse))
    assert reply.error.code == "permission_denied" and "outside the allowed" in reply.error.message
    assert "put_table_meta" not in cluster.kinds()


async def test_non_numeric_feature_is_refused(
    binder: NodeManagerService, cluster: FakeCluster, rpc: RpcClient, tmp_path: Path
) -> None:
    folder = tmp_path / "warehouse" / "mixed"
    folder.mkdir(parents=True)
    (folder / "a.csv").write_text("id,age,city\n1,30,Oslo\n2,41,Paris\n")
    reply = await command(rpc, bind_cmd(folder, kind="csv", label_column=""))
    assert reply.error.code == "invalid_input" and "column 'city'" in reply.error.message
    assert "put_table_meta" not in cluster.kinds()


async def test_existing_name_needs_replace(
    binder: NodeManagerService, cluster: FakeCluster, rpc: RpcClient, warehouse: Path
) -> None:
    assert (await command(rpc, bind_cmd(warehouse))).WhichOneof("reply") == "table"
    again = await command(rpc, bind_cmd(warehouse))
    assert again.error.code == "conflict" and "replace" in again.error.message
    assert (await command(rpc, bind_cmd(warehouse, replace=True))).WhichOneof("reply") == "table"


def reader_params(table: str) -> Struct:
    s = Struct()
    s.update({"table": table, "require_label": True})
    return s


async def test_task_reads_the_source_and_passes_the_binding_on(
    binder: NodeManagerService, cluster: FakeCluster, events: TaskEvents, rpc: RpcClient, warehouse: Path
) -> None:
    await command(rpc, bind_cmd(warehouse))
    inputs = {"table": pb.TableRef(namespace="bank", name="feats")}
    await command(rpc, run_cmd("reader_0", "reader", params=reader_params("bank.feats"), input_tables=inputs))
    final = await events.final("reader_0")
    assert pb.TaskState.Name(final.state) == "TASK_STATE_SUCCEEDED", final.message
    assert dict(final.summary) == {"rows": 30.0, "features": 2.0}
    ref = final.output_tables["data"]
    assert (ref.namespace, ref.name) == ("bank", "feats")  # the binding itself, not a copy
    assert data_files(binder) == []


async def test_changed_source_is_reported_at_task_start(
    binder: NodeManagerService, cluster: FakeCluster, events: TaskEvents, rpc: RpcClient, warehouse: Path
) -> None:
    await command(rpc, bind_cmd(warehouse))
    write_parts(warehouse, rows=33)  # rewritten since it was bound
    inputs = {"table": pb.TableRef(namespace="bank", name="feats")}
    await command(rpc, run_cmd("reader_0", "reader", params=reader_params("bank.feats"), input_tables=inputs))
    final = await events.final("reader_0")
    assert pb.TaskState.Name(final.state) == "TASK_STATE_FAILED"
    assert "bank.feats at party 9999 changed since it was bound" in final.message
    assert str(warehouse) not in final.message  # the public message names no path
