"""What the node-manager does with tables: store an upload (whole or in spooled pieces), bind
a table that stays at its source, delete one. Every refusal leaves nothing stored or registered.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
from functools import partial
from pathlib import Path

import numpy as np

from node_manager.binding import open_bound, probe_binding
from node_manager.cluster_client import ClusterClient
from node_manager.metrics import NodeMetrics
from node_manager.storage import TableStorage
from node_manager.tables import table_meta
from node_manager.uploads import UploadSpool
from silobridge.bus.base import check_word
from silobridge.cluster.v1 import cluster_pb2 as cpb
from silobridge.errors import InvalidInput, NotFound
from silobridge.federation import codec
from silobridge.node.v1 import node_pb2 as pb
from silobridge.table import Table
from silobridge.table_csv import csv_batches

log = logging.getLogger(__name__)

MAX_PARTITIONS = 1024
MAX_READ_BYTES = 48 << 20  # a ReadTable reply stays below the bus limit of 64 MiB


class TableCommands:
    def __init__(
        self,
        *,
        node_id: str,
        storage: TableStorage,
        uploads: UploadSpool,
        cluster: ClusterClient,
        metrics: NodeMetrics,
        default_partitions: int,
        bind_allow: list[str],
    ) -> None:
        self.node_id, self.storage, self.uploads, self.cluster = node_id, storage, uploads, cluster
        self.metrics, self.default_partitions, self.bind_allow = metrics, default_partitions, bind_allow

    async def store(self, st: pb.StoreTable, spool: Path | None = None) -> cpb.TableMeta:
        """Parse, partition and register the CSV in ``st`` (or, for a streamed upload, in the
        ``spool`` file, batch by batch); on any error nothing is stored or registered."""
        ns, name = st.table.namespace, st.table.name
        try:
            check_word(ns, "table namespace")
            check_word(name, "table name")
            if spool is None and not st.csv:
                raise InvalidInput(f"StoreTable for {ns}.{name} carries no CSV data")
            if st.partitions > MAX_PARTITIONS:
                raise InvalidInput(
                    f"{st.partitions} partitions requested for {ns}.{name}; at most {MAX_PARTITIONS}"
                )
            parts = st.partitions or self.default_partitions
            stage = partial(self._stage_csv, st, spool, parts)
            try:
                staging, rows, schema = await asyncio.to_thread(stage)
            except InvalidInput as exc:
                raise InvalidInput(f"table {ns}.{name} not stored: {exc.public_message}") from None
            meta = table_meta(ns, name, schema, rows, self.node_id)
            meta.rows = sum(rows)
            try:
                meta = await self.cluster.put_table_meta(meta)
            except BaseException:
                await asyncio.to_thread(self.storage.discard, staging)
                raise
            await asyncio.to_thread(self.storage.commit, staging, ns, name)
        except Exception:
            self.metrics.tables.labels("store", "error").inc()
            raise
        self.metrics.tables.labels("store", "ok").inc()
        log.info("stored table %s.%s: %d rows in %d partitions", ns, name, meta.rows, len(rows))
        return meta

    def _stage_csv(self, st: pb.StoreTable, spool: Path | None, parts: int) -> tuple[Path, list[int], Table]:
        with spool.open("rb") if spool is not None else io.BytesIO(st.csv) as fh:
            batches = csv_batches(fh, id_column=st.id_column, label_column=st.label_column)
            return self.storage.stage_batches(st.table.namespace, st.table.name, batches, parts)

    async def upload_chunk(self, piece: pb.UploadChunk) -> cpb.TableMeta | None:
        """Spool one piece of a large upload; the last one stores the table (the spool then goes)."""
        uid = piece.upload_id
        if piece.abort:
            await asyncio.to_thread(self.uploads.drop, uid)
            return None
        await asyncio.to_thread(self.uploads.append, uid, piece.offset, bytes(piece.data))
        if not piece.HasField("last"):
            return None
        try:
            return await self.store(piece.last, spool=self.uploads.existing(uid))
        finally:
            await asyncio.to_thread(self.uploads.drop, uid)

    async def bind(self, cmd: pb.BindTable) -> cpb.TableMeta:
        """Register a table that stays at its source; refused (nothing registered) unless allowed."""
        ns, name = cmd.table.namespace, cmd.table.name
        try:
            check_word(ns, "table namespace")
            check_word(name, "table name")
            existing = await self.cluster.get_table_meta(ns, name)
            if existing is not None and not existing.HasField("source") and cmd.replace:
                raise InvalidInput(
                    f"table {ns}.{name} is an uploaded table: delete it before binding that name"
                )
            meta = await asyncio.to_thread(
                probe_binding,
                cmd,
                node_id=self.node_id,
                allow=list(self.bind_allow),
                environ=os.environ,
                existing=existing is not None or self.storage.exists(ns, name),
            )
            meta = await self.cluster.put_table_meta(meta)
        except Exception:
            self.metrics.tables.labels("bind", "error").inc()
            raise
        self.metrics.tables.labels("bind", "ok").inc()
        log.info("bound table %s.%s to a %s source: %d rows", ns, name, cmd.source.kind, meta.rows)
        return meta

    async def read(self, ref: pb.TableRef, *, party_id: int) -> bytes:
        """Every row of a table this node holds, for the party's own serving service (its online
        feature table): a ``Value`` dict of ids, features and feature names."""
        ns, name = ref.namespace, ref.name
        check_word(ns, "table namespace")
        check_word(name, "table name")
        if self.storage.exists(ns, name):
            table: Table = await asyncio.to_thread(self.storage.load, ns, name)
        else:
            meta = await self.cluster.get_table_meta(ns, name)
            if meta is None or not meta.HasField("source"):
                raise NotFound(f"table {ns}.{name} is not stored on node {self.node_id}")
            table = await asyncio.to_thread(
                open_bound, meta, party_id=party_id, allow=list(self.bind_allow), environ=os.environ
            )
        size = table.rows * (len(table.feature_names) * 8 + 64)
        if size > MAX_READ_BYTES:
            raise InvalidInput(
                f"table {ns}.{name} ({table.rows} rows) is over the {MAX_READ_BYTES >> 20} MiB a read may return"
            )
        value = {
            "ids": np.asarray(table.ids, dtype=str),
            "features": np.asarray(table.features, dtype=np.float64),
            "feature_names": np.asarray(table.feature_names, dtype=str),
        }
        self.metrics.tables.labels("read", "ok").inc()
        return codec.to_bytes(value)

    async def delete(self, ref: pb.TableRef) -> None:
        """Metadata first, then files: no reader is ever pointed at partitions already gone."""
        check_word(ref.namespace, "table namespace")
        check_word(ref.name, "table name")
        if not await self.cluster.delete_table_meta(ref.namespace, ref.name):
            log.info("table %s.%s had no metadata left to delete", ref.namespace, ref.name)
        existed = await asyncio.to_thread(self.storage.delete, ref.namespace, ref.name)
        self.metrics.tables.labels("delete", "ok" if existed else "not_found").inc()
        if not existed:
            raise NotFound(f"table {ref.namespace}.{ref.name} is not stored on node {self.node_id}")
        log.info("deleted table %s.%s", ref.namespace, ref.name)
