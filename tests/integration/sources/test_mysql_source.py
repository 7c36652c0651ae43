"""A MySQL/MariaDB table or query as a bound source, with a real password from a secret reference."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pymysql
import pytest
from brokers import MYSQL_PASSWORD, MYSQL_URL

from silobridge.cluster.v1 import cluster_pb2 as cpb
from silobridge.errors import InvalidInput, RetryableError
from silobridge.sources.factory import open_source
from silobridge.sources.mysql import MySqlSource

pytestmark = [pytest.mark.mysql]


def connect() -> pymysql.connections.Connection:
    u = urlsplit(MYSQL_URL)
    return pymysql.connect(
        host=u.hostname, port=u.port or 3306, user=u.username, password=MYSQL_PASSWORD,
        database=u.path.strip("/"), autocommit=True,
    )  # fmt: skip


@pytest.fixture
def my_table() -> Iterator[str]:
    name = f"sb_src_{uuid.uuid4().hex[:10]}"
    with connect() as conn, conn.cursor() as cur:
        cur.execute(
            f"CREATE TABLE {name} (uid VARCHAR(16) PRIMARY KEY, age INT, score DECIMAL(6,2), y TINYINT)"
        )
        cur.executemany(
            f"INSERT INTO {name} VALUES (%s, %s, %s, %s)",
            [(f"c{i:04d}", 20 + i % 50, i / 4, i % 2) for i in reversed(range(1000))],
        )
    yield name
    with connect() as conn, conn.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {name}")


def test_bound_through_a_secret_file_with_typed_schema_and_ordered_batches(
    my_table: str, tmp_path: Path
) -> None:
    secret = tmp_path / "db-password"
    secret.write_text(MYSQL_PASSWORD + "\n")
    spec = cpb.TableSource(kind="mysql", location=MYSQL_URL, query=my_table, secret_ref=f"file:{secret}")
    src = open_source(spec, id_column="uid", allow=[MYSQL_URL], environ={})
    probe = src.probe()
    assert [(f.name, str(f.type)) for f in probe.schema] == [
        ("uid", "string"),
        ("age", "int64"),
        ("score", "double"),
        ("y", "int64"),
    ]
    assert probe.partition_rows == [1000] and probe.version.startswith("mysql:1000:")
    batches = list(src.batches(["uid", "score"], batch_rows=300))
    assert [b.num_rows for b in batches] == [300, 300, 300, 100]
    ids = [v for b in batches for v in b.column(0).to_pylist()]
    assert ids == sorted(ids) and batches[0].column(1).to_pylist()[:2] == [0.0, 0.25]


def test_wrong_password_is_a_clear_error(my_table: str) -> None:
    with pytest.raises(RetryableError, match=r"cannot connect to MySQL at 127\.0\.0\.1: Access denied"):
        MySqlSource(MYSQL_URL, my_table, "uid", "not-the-password").probe()


def test_fingerprint_changes_with_the_data(my_table: str) -> None:
    src = MySqlSource(MYSQL_URL, f"SELECT uid, age, y FROM {my_table} WHERE age > 30", "uid", MYSQL_PASSWORD)
    before = src.version()
    assert src.version() == before
    with connect() as conn, conn.cursor() as cur:
        cur.execute(f"UPDATE {my_table} SET age = age + 1 WHERE uid = 'c0040'")
    assert src.version() != before


def test_the_query_runs_read_only(my_table: str) -> None:
    with connect() as conn, conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {my_table}_log (n INT)")
    try:
        # A stored function that writes: refused inside the read-only transaction.
        with connect() as conn, conn.cursor() as cur:
            cur.execute(
                f"CREATE FUNCTION {my_table}_f() RETURNS INT MODIFIES SQL DATA "
                f"BEGIN INSERT INTO {my_table}_log VALUES (1); RETURN 1; END"
            )
        writes = MySqlSource(
            MYSQL_URL, f"SELECT uid, {my_table}_f() AS n FROM {my_table}", "uid", MYSQL_PASSWORD
        )
        with pytest.raises(InvalidInput, match="READ ONLY"):
            writes.version()
        with connect() as conn, conn.cursor() as cur:
            cur.execute(f"SELECT COUNT(*) FROM {my_table}_log")
            assert cur.fetchone() == (0,)
    finally:
        with connect() as conn, conn.cursor() as cur:
            cur.execute(f"DROP FUNCTION IF EXISTS {my_table}_f")
            cur.execute(f"DROP TABLE IF EXISTS {my_table}_log")
