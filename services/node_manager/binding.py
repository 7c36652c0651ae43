"""Bound tables at the node-manager: bind one (allow-list, secret, probe, register) and open one
for a task (fingerprint check, then a lazily read :class:`SourceTable`).

The node-manager is where the source is reached and the secret resolved, so it decides what may
be bound (``bind_allow``, default empty: nothing). A refused binding registers nothing.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from silobridge.bus.base import check_word
from silobridge.cluster.v1 import cluster_pb2 as cpb
from silobridge.errors import Conflict, InvalidInput, SilobridgeError
from silobridge.node.v1 import node_pb2 as pb
from silobridge.sources.base import table_columns
from silobridge.sources.factory import open_source
from silobridge.sources.lazy import SourceTable

MAX_BOUND_PARTITIONS = 100_000


def probe_binding(
    cmd: pb.BindTable, *, node_id: str, allow: list[str], environ: Mapping[str, str], existing: bool
) -> cpb.TableMeta:
    """The metadata of a new binding (nothing registered yet); every refusal names the problem."""
    ns, name = cmd.table.namespace, cmd.table.name
    check_word(ns, "table namespace")
    check_word(name, "table name")
    if not cmd.id_column:
        raise InvalidInput(f"binding {ns}.{name} names no id column")
    if existing and not cmd.replace:
        raise Conflict(f"table {ns}.{name} already exists at this party (bind with replace to rebind it)")
    source = open_source(cmd.source, id_column=cmd.id_column, allow=allow, environ=environ)
    probe = source.probe()
    where = f"source of {ns}.{name}"
    _, columns = table_columns(probe.schema, cmd.id_column, cmd.label_column, where)
    if probe.rows == 0:
        raise InvalidInput(f"{where} has no rows")
    if len(probe.partition_rows) > MAX_BOUND_PARTITIONS:
        raise InvalidInput(
            f"{where} has {len(probe.partition_rows)} partitions; at most {MAX_BOUND_PARTITIONS}"
        )
    return cpb.TableMeta(
        namespace=ns,
        name=name,
        columns=columns,
        id_column=cmd.id_column,
        label_column=cmd.label_column,
        partitions=[
            cpb.PartitionMeta(index=i, node_id=node_id, rows=r) for i, r in enumerate(probe.partition_rows)
        ],
        rows=probe.rows,
        created_unix=time.time(),
        source=cmd.source,
        source_version=probe.version,
    )


def open_bound(
    meta: cpb.TableMeta, *, party_id: int, allow: list[str], environ: Mapping[str, str]
) -> SourceTable:
    """The bound table for a task, refused when its source changed since it was bound.

    Task messages reach the other parties, so the public message names the table, never a path,
    a database or a fingerprint (those stay in this party's log).
    """
    qualified = f"{meta.namespace}.{meta.name}"
    try:
        source = open_source(meta.source, id_column=meta.id_column, allow=allow, environ=environ)
        now = source.version()
    except SilobridgeError as exc:
        raise type(exc)(
            f"bound table {qualified}: {exc}",
            public_message=f"bound table {qualified} at party {party_id} cannot be read",
        ) from None
    if now != meta.source_version:
        raise Conflict(
            f"table {qualified} changed since it was bound (fingerprint {meta.source_version}, now {now})",
            public_message=(
                f"table {qualified} at party {party_id} changed since it was bound: rebind it "
                "(silobridge table bind --replace) to train on the new data"
            ),
        )
    features = [c.name for c in meta.columns if c.name not in (meta.id_column, meta.label_column)]
    return SourceTable(
        source,
        ref=(meta.namespace, meta.name),
        id_name=meta.id_column,
        label_name=meta.label_column,
        feature_names=features,
        rows=meta.rows,
    )
