"""TableMeta of a table this node stores (what the cluster-manager learns about it)."""

from __future__ import annotations

import time

from silobridge.cluster.v1 import cluster_pb2 as cpb
from silobridge.table import Table


def table_meta(namespace: str, name: str, table: Table, part_rows: list[int], node_id: str) -> cpb.TableMeta:
    columns = [cpb.ColumnSchema(name=table.id_name, dtype="string")]
    columns += [cpb.ColumnSchema(name=n, dtype="float64") for n in table.feature_names]
    if table.label is not None:
        columns.append(cpb.ColumnSchema(name=table.label_name, dtype="float64"))
    return cpb.TableMeta(
        namespace=namespace,
        name=name,
        columns=columns,
        id_column=table.id_name,
        label_column=table.label_name if table.label is not None else "",
        partitions=[cpb.PartitionMeta(index=i, node_id=node_id, rows=r) for i, r in enumerate(part_rows)],
        rows=table.rows,
        created_unix=time.time(),
    )
