"""A PostgreSQL table or query as a bound source: typed schema, ordered batches, fingerprint."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from brokers import POSTGRES_URL

from silobridge.errors import InvalidInput
from silobridge.sources.sql import PostgresSource

pytestmark = [pytest.mark.postgres]


@pytest.fixture
def pg_table() -> Iterator[str]:
    name = f"sb_src_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE {name} (uid text PRIMARY KEY, age integer, score numeric(6,2), y smallint)"
        )
        with conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO {name} VALUES (%s, %s, %s, %s)",
                [(f"c{i:04d}", 20 + i % 50, i / 4, i % 2) for i in reversed(range(1000))],
            )
    yield name
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {name}")


def test_probe_types_rows_and_ordered_batches(pg_table: str) -> None:
    src = PostgresSource(POSTGRES_URL, pg_table, "uid")
    probe = src.probe()
    assert [(f.name, str(f.type)) for f in probe.schema] == [
        ("uid", "string"),
        ("age", "int64"),
        ("score", "double"),
        ("y", "int64"),
    ]
    assert probe.partition_rows == [1000]
    batches = list(src.batches(["uid", "score"], batch_rows=300))
    assert [b.num_rows for b in batches] == [300, 300, 300, 100]
    ids = [v for b in batches for v in b.column(0).to_pylist()]
    assert ids == sorted(ids) and ids[0] == "c0000"
    assert batches[0].column(1).to_pylist()[:2] == [0.0, 0.25]


def test_fingerprint_changes_with_the_data(pg_table: str) -> None:
    src = PostgresSource(POSTGRES_URL, f"SELECT uid, age, y FROM {pg_table} WHERE age > 30", "uid")
    before = src.version()
    assert src.version() == before
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f"UPDATE {pg_table} SET age = age + 1 WHERE uid = 'c0040'")
    assert src.version() != before


def test_the_query_runs_read_only(pg_table: str) -> None:
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SEQUENCE {pg_table}_seq")
    try:
        writes = PostgresSource(
            POSTGRES_URL, f"SELECT uid, nextval('{pg_table}_seq') AS n FROM {pg_table}", "uid"
        )
        with pytest.raises(InvalidInput, match="read-only transaction"):
            writes.probe()
        with psycopg.connect(POSTGRES_URL) as conn:
            assert conn.execute(f"SELECT last_value, is_called FROM {pg_table}_seq").fetchone() == (1, False)
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f"DROP SEQUENCE {pg_table}_seq")


@pytest.mark.parametrize("query", ["t; DROP TABLE x", "DELETE FROM t", "", "a.b.c"])
def test_only_a_table_name_or_one_select(query: str) -> None:
    with pytest.raises(InvalidInput):
        PostgresSource(POSTGRES_URL, query, "uid")
