"""One interface over every source a table can be bound to.

A source yields Arrow record batches of the columns asked for, in a stable order, and a
fingerprint (``version``) that changes when its data may have changed. Nothing here keeps a
whole table: callers take batches one at a time.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa

from silobridge.cluster.v1 import cluster_pb2 as cpb
from silobridge.errors import InvalidInput

BATCH_ROWS = 65_536
FILE_KINDS = ("parquet", "csv")
SQL_KINDS = ("postgresql", "mysql")
KINDS = FILE_KINDS + SQL_KINDS


@dataclass(frozen=True)
class Probe:
    """What binding learns about a source: its Arrow schema, rows per partition, fingerprint."""

    schema: pa.Schema
    partition_rows: list[int]
    version: str

    @property
    def rows(self) -> int:
        return sum(self.partition_rows)


class Source(abc.ABC):
    @abc.abstractmethod
    def probe(self) -> Probe:
        """Schema, rows and fingerprint; reads no more than it must (file footers, a count)."""

    @abc.abstractmethod
    def version(self) -> str:
        """The current fingerprint (compared with the one recorded when the table was bound)."""

    @abc.abstractmethod
    def batches(self, columns: list[str], batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
        """The columns asked for, in the source's order, ``batch_rows`` rows at most per batch."""


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise InvalidInput(f"unknown source kind {kind!r} (kinds: {', '.join(KINDS)})")
    return kind


def dtype_name(t: pa.DataType) -> str:
    if pa.types.is_integer(t):
        return "int64"
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "float64"
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    return str(t)


def _numeric(t: pa.DataType) -> bool:
    return any(
        f(t) for f in (pa.types.is_integer, pa.types.is_floating, pa.types.is_decimal, pa.types.is_boolean)
    )


def table_columns(
    schema: pa.Schema, id_column: str, label_column: str, where: str
) -> tuple[list[str], list[cpb.ColumnSchema]]:
    """Feature column names and the typed schema; refuses what a table cannot hold, naming it."""
    names = list(schema.names)
    if len(set(names)) != len(names):
        raise InvalidInput(f"{where} has duplicate column names")
    if id_column not in names:
        raise InvalidInput(f"id column {id_column!r} not found in {where} (columns: {names})")
    if label_column and label_column not in names:
        raise InvalidInput(f"label column {label_column!r} not found in {where} (columns: {names})")
    if label_column == id_column:
        raise InvalidInput(f"{where}: the id column cannot also be the label column")
    features = [n for n in names if n not in (id_column, label_column)]
    for n in [label_column, *features] if label_column else features:
        t = schema.field(n).type
        if not _numeric(t):
            raise InvalidInput(
                f"column {n!r} of {where} is {dtype_name(t)}; feature and label columns must be numeric"
            )
    id_type = schema.field(id_column).type
    if not (_numeric(id_type) or pa.types.is_string(id_type) or pa.types.is_large_string(id_type)):
        raise InvalidInput(
            f"id column {id_column!r} of {where} is {id_type}; ids must be strings or integers"
        )
    columns = [cpb.ColumnSchema(name=n, dtype=dtype_name(schema.field(n).type)) for n in names]
    return features, columns
