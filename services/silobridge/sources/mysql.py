"""A table or one SELECT query in MySQL or MariaDB, read through an unbuffered cursor (PyMySQL).

As for PostgreSQL (``sql``): reads run in a read-only transaction, rows come in the order of the
id column, and the fingerprint is the row count plus an order-independent sum of a 60-bit hash
(MD5) of every row, computed by the server in one scan.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote, urlsplit

import pyarrow as pa
import pymysql
import pymysql.cursors
from pymysql.constants import FIELD_TYPE

from silobridge.errors import InvalidInput, RetryableError
from silobridge.sources.base import BATCH_ROWS, Probe, Source
from silobridge.sources.sql import TABLE_NAME, cells, check_query

BINARY_CHARSET = 63
_INTS = {
    FIELD_TYPE.TINY,
    FIELD_TYPE.SHORT,
    FIELD_TYPE.LONG,
    FIELD_TYPE.LONGLONG,
    FIELD_TYPE.INT24,
    FIELD_TYPE.YEAR,
}
_FLOATS = {FIELD_TYPE.FLOAT, FIELD_TYPE.DOUBLE, FIELD_TYPE.DECIMAL, FIELD_TYPE.NEWDECIMAL}
_TEXT = {FIELD_TYPE.VARCHAR, FIELD_TYPE.VAR_STRING, FIELD_TYPE.STRING, FIELD_TYPE.BLOB, FIELD_TYPE.ENUM}


def _arrow_type(type_code: int, charset: int) -> pa.DataType:
    if type_code in _INTS:
        return pa.int64()
    if type_code in _FLOATS:
        return pa.float64()
    if type_code in _TEXT and charset != BINARY_CHARSET:
        return pa.string()
    return pa.binary()


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _message(exc: pymysql.MySQLError) -> str:
    args = exc.args
    return str(args[1] if len(args) > 1 else args[0] if args else type(exc).__name__)[:300]


class MySqlSource(Source):
    def __init__(self, dsn: str, query: str, id_column: str, password: str = "") -> None:
        self.url, self.query, self.id_column, self.password = (
            urlsplit(dsn),
            check_query(query),
            id_column,
            password,
        )

    @contextmanager
    def _connect(self, *, stream: bool = False) -> Iterator[pymysql.connections.Connection[Any]]:
        u = self.url
        try:
            conn = pymysql.connect(
                host=u.hostname or "127.0.0.1",
                port=u.port or 3306,
                user=unquote(u.username or ""),
                password=self.password,
                database=u.path.strip("/"),
                connect_timeout=10,
                cursorclass=pymysql.cursors.SSCursor if stream else pymysql.cursors.Cursor,
            )
        except pymysql.MySQLError as exc:
            raise RetryableError(f"cannot connect to MySQL at {u.hostname}: {_message(exc)}") from None
        try:
            with conn.cursor() as cur:
                cur.execute("START TRANSACTION READ ONLY")
            yield conn
        finally:
            conn.close()

    def _inner(self) -> str:
        q = self.query
        if TABLE_NAME.match(q):
            return ".".join(_quote(p) for p in q.split(".")) + " AS sb_source"
        return f"({q}) AS sb_source"

    def _execute(self, cur: Any, stmt: str) -> None:
        try:
            cur.execute(stmt)
        except pymysql.MySQLError as exc:
            raise InvalidInput(f"MySQL refused the bound query: {_message(exc)}") from None

    def _schema(self, conn: pymysql.connections.Connection[Any]) -> pa.Schema:
        with conn.cursor() as cur:
            self._execute(cur, f"SELECT * FROM {self._inner()} LIMIT 0")
            desc = cur.description or ()
        return pa.schema([pa.field(d[0], _arrow_type(d[1], d[6] if len(d) > 6 else 0)) for d in desc])

    def _version(self, conn: pymysql.connections.Connection[Any], names: list[str]) -> str:
        cols = ", ".join(f"IFNULL({_quote(n)}, 0x00)" for n in names)
        stmt = (
            f"SELECT COUNT(*), CAST(COALESCE(SUM(CONV(LEFT(MD5(CONCAT_WS(0x1f, {cols})), 15), 16, 10)), 0) AS CHAR) "
            f"FROM {self._inner()}"
        )
        with conn.cursor() as cur:
            self._execute(cur, stmt)
            count, total = cur.fetchone() or (0, "0")
        return f"mysql:{count}:{total}"

    def probe(self) -> Probe:
        with self._connect() as conn:
            schema = self._schema(conn)
            version = self._version(conn, list(schema.names))
        return Probe(schema=schema, partition_rows=[int(version.split(":")[1])], version=version)

    def version(self) -> str:
        with self._connect() as conn:
            return self._version(conn, list(self._schema(conn).names))

    def batches(self, columns: list[str], batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
        with self._connect(stream=True) as conn:
            types = {f.name: f.type for f in self._schema(conn)}
            picked = ", ".join(_quote(c) for c in columns)
            with conn.cursor() as cur:
                self._execute(cur, f"SELECT {picked} FROM {self._inner()} ORDER BY {_quote(self.id_column)}")
                while rows := cur.fetchmany(batch_rows):
                    cols = list(zip(*rows, strict=True))
                    arrays = [
                        pa.array(cells(cols[i], types[c]), type=types[c]) for i, c in enumerate(columns)
                    ]
                    yield pa.RecordBatch.from_arrays(arrays, names=columns)
