"""A table or one SELECT query in PostgreSQL, read through a server-side cursor (psycopg).

Every read runs in a read-only transaction, so a bound query can never write. Rows come in the
order of the id column (``ORDER BY``): two reads of an unchanged source line up row by row, and
the server sorts larger-than-memory results on its own disk. The fingerprint is the row count
and an order-independent sum of the rows' hashes, computed by the server in one scan.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pyarrow as pa
from psycopg import sql

from silobridge.errors import InvalidInput, RetryableError
from silobridge.sources.base import BATCH_ROWS, Probe, Source

TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$")
_SELECT = re.compile(r"^\s*(select|with)\b", re.IGNORECASE)
MAX_QUERY_CHARS = 16_384

# PostgreSQL type oids -> Arrow types; anything else is read as text and refused as a feature.
_PG_TYPES: dict[int, pa.DataType] = {
    16: pa.bool_(),
    20: pa.int64(),
    21: pa.int64(),
    23: pa.int64(),
    700: pa.float64(),
    701: pa.float64(),
    1700: pa.float64(),
    25: pa.string(),
    1042: pa.string(),
    1043: pa.string(),
    2950: pa.string(),
}


def check_query(query: str) -> str:
    """A table name (``name`` or ``schema.name``) or one SELECT / WITH query."""
    q = query.strip()
    if not q:
        raise InvalidInput("a SQL source needs a table name or a SELECT query")
    if len(q) > MAX_QUERY_CHARS:
        raise InvalidInput(f"SQL query of {len(q)} characters; at most {MAX_QUERY_CHARS}")
    if not TABLE_NAME.match(q) and not _SELECT.match(q):
        raise InvalidInput("a SQL source is a table name (schema.name) or one SELECT query")
    if ";" in q.rstrip(";"):
        raise InvalidInput("a SQL source is one query: no ';' between statements")
    return q.rstrip(";")


def _relation(query: str) -> sql.Composable:
    if TABLE_NAME.match(query):
        return sql.SQL("SELECT * FROM {}").format(sql.Identifier(*query.split(".")))
    return sql.SQL(query)  # type: ignore[arg-type]  # checked by check_query; runs read-only


def _type_name(conn: psycopg.Connection[Any], oid: int) -> str:
    info = conn.adapters.types.get(oid)
    return info.name if info is not None else f"oid {oid}"


class PostgresSource(Source):
    def __init__(self, dsn: str, query: str, id_column: str, password: str = "") -> None:
        self.dsn, self.query, self.id_column, self.password = dsn, check_query(query), id_column, password

    @contextmanager
    def _connect(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            conn = psycopg.connect(self.dsn, connect_timeout=10, password=self.password or None)
        except psycopg.OperationalError as exc:
            where = urlsplit(self.dsn).hostname or "the database"
            first = str(exc).strip().splitlines()[-1][:200] if str(exc).strip() else type(exc).__name__
            raise RetryableError(f"cannot connect to PostgreSQL at {where}: {first}") from None
        try:
            conn.read_only = True
            yield conn
        finally:
            conn.close()

    def _inner(self) -> sql.Composable:
        return sql.SQL("({}) AS sb_source").format(_relation(self.query))

    def _run(self, conn: psycopg.Connection[Any], stmt: sql.Composed) -> psycopg.Cursor[Any]:
        try:
            return conn.execute(stmt)
        except psycopg.Error as exc:
            raise InvalidInput(
                f"PostgreSQL refused the bound query: {str(exc).strip().splitlines()[0][:300]}"
            ) from None

    def probe(self) -> Probe:
        with self._connect() as conn:
            cur = self._run(conn, sql.SQL("SELECT * FROM {} LIMIT 0").format(self._inner()))
            fields = []
            for col in cur.description or []:
                t = _PG_TYPES.get(col.type_code)
                if t is None:
                    t = pa.binary()
                    fields.append(
                        pa.field(col.name, t, metadata={"sql_type": _type_name(conn, col.type_code)})
                    )
                else:
                    fields.append(pa.field(col.name, t))
            schema = pa.schema(fields)
            version = self._version(conn)
        rows = int(version.split(":")[1])
        return Probe(schema=schema, partition_rows=[rows], version=version)

    def _version(self, conn: psycopg.Connection[Any]) -> str:
        stmt = sql.SQL(
            "SELECT count(*), coalesce(sum(hashtextextended(sb_source::text, 0)), 0)::text FROM {}"
        ).format(self._inner())
        count, total = self._run(conn, stmt).fetchone() or (0, "0")
        return f"postgresql:{count}:{total}"

    def version(self) -> str:
        with self._connect() as conn:
            return self._version(conn)

    def batches(self, columns: list[str], batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
        with self._connect() as conn:
            probe = self._run(conn, sql.SQL("SELECT * FROM {} LIMIT 0").format(self._inner()))
            types = {c.name: _PG_TYPES.get(c.type_code, pa.string()) for c in probe.description or []}
            stmt = sql.SQL("SELECT {} FROM {} ORDER BY {}").format(
                sql.SQL(", ").join(sql.Identifier(c) for c in columns),
                self._inner(),
                sql.Identifier(self.id_column),
            )
            with conn.cursor(name="silobridge_read") as cur:
                try:
                    cur.execute(stmt)
                except psycopg.Error as exc:
                    raise InvalidInput(
                        f"PostgreSQL refused the bound query: {str(exc).strip()[:300]}"
                    ) from None
                while rows := cur.fetchmany(batch_rows):
                    cols = list(zip(*rows, strict=True))
                    arrays = [
                        pa.array(cells(cols[i], types[c]), type=types[c]) for i, c in enumerate(columns)
                    ]
                    yield pa.RecordBatch.from_arrays(arrays, names=columns)


def cells(values: tuple[Any, ...], t: pa.DataType) -> list[Any]:
    """NUMERIC arrives as Decimal and uuid as UUID: convert those; the rest Arrow takes as is."""
    if pa.types.is_floating(t):
        return [None if v is None else float(v) for v in values]
    if pa.types.is_string(t):
        return [None if v is None else str(v) for v in values]
    return list(values)
