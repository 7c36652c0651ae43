"""silobridge.migrations: steps in order, each once and whole, and never on a newer database."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from silobridge.migrations import Migration, SchemaTooNew, SqliteSchemaDb, current_version, migrate

STEPS = (
    Migration(1, "items", ("CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",)),
    # Not idempotent: applied twice, it fails ("duplicate column").
    Migration(2, "item colour", ("ALTER TABLE items ADD COLUMN colour TEXT NOT NULL DEFAULT 'blue'",)),
    Migration(3, "index", ("CREATE INDEX items_colour ON items (colour)",)),
)


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    db.execute("PRAGMA journal_mode=WAL")
    return db


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    with contextlib.closing(_connect(tmp_path / "db.sqlite")) as conn:
        yield conn


def _rows(db: sqlite3.Connection) -> list[tuple[int, str]]:
    return list(db.execute("SELECT version, description FROM schema_version ORDER BY version"))


def test_a_new_database_gets_every_step_in_order(db: sqlite3.Connection) -> None:
    assert migrate(SqliteSchemaDb(db), STEPS) == 3
    assert _rows(db) == [(1, "items"), (2, "item colour"), (3, "index")]
    db.execute("INSERT INTO items (name) VALUES ('a')")
    assert db.execute("SELECT colour FROM items").fetchall() == [("blue",)]


def test_each_step_is_applied_once(db: sqlite3.Connection) -> None:
    migrate(SqliteSchemaDb(db), STEPS[:2])
    db.execute("INSERT INTO items (name, colour) VALUES ('kept', 'red')")
    assert migrate(SqliteSchemaDb(db), STEPS) == 3  # only step 3 is new
    assert migrate(SqliteSchemaDb(db), STEPS) == 3
    assert [v for v, _ in _rows(db)] == [1, 2, 3]
    assert db.execute("SELECT name, colour FROM items").fetchall() == [("kept", "red")]


def test_a_database_from_before_versions_is_version_1(db: sqlite3.Connection) -> None:
    db.execute(STEPS[0].statements[0])
    db.execute("INSERT INTO items (name) VALUES ('old')")
    assert migrate(SqliteSchemaDb(db), STEPS) == 3
    assert db.execute("SELECT name, colour FROM items").fetchall() == [("old", "blue")]


def test_a_failed_step_is_rolled_back_whole(db: sqlite3.Connection) -> None:
    broken = Migration(
        2,
        "half",
        ("ALTER TABLE items ADD COLUMN colour TEXT NOT NULL DEFAULT 'blue'", "CREATE TABLE items (x)"),
    )
    with pytest.raises(sqlite3.OperationalError, match="already exists"):
        migrate(SqliteSchemaDb(db), (STEPS[0], broken))
    assert current_version(SqliteSchemaDb(db)) == 1
    columns = [r[1] for r in db.execute("PRAGMA table_info(items)")]
    assert columns == ["id", "name"]  # the first statement of the failed step is undone too
    assert migrate(SqliteSchemaDb(db), STEPS) == 3


def test_a_newer_database_is_refused_and_left_alone(db: sqlite3.Connection) -> None:
    migrate(SqliteSchemaDb(db), STEPS)
    before = list(db.iterdump())
    with pytest.raises(SchemaTooNew) as info:
        migrate(SqliteSchemaDb(db), STEPS[:2], what="test database")
    assert "the test database has schema version 3, but this release knows versions up to 2" in str(
        info.value
    )
    assert list(db.iterdump()) == before


def test_steps_must_be_numbered_in_order(db: sqlite3.Connection) -> None:
    with pytest.raises(ValueError, match=r"numbered 1..n in order, got \[1, 3\]"):
        migrate(SqliteSchemaDb(db), (STEPS[0], STEPS[2]))
    assert db.execute("SELECT name FROM sqlite_master").fetchall() == []


class _Racing(SqliteSchemaDb):
    """Waits for the other replicas after its first transaction (the version check), so that all
    of them have read the same old version before any applies a step."""

    def __init__(self, connection: sqlite3.Connection, barrier: threading.Barrier) -> None:
        super().__init__(connection)
        self._barrier, self._done = barrier, 0

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with super().transaction():
            yield
        self._done += 1
        if self._done == 1:
            self._barrier.wait(timeout=30)


def test_concurrent_starts_apply_each_step_once(tmp_path: Path) -> None:
    """Replicas starting together on one database: each step re-reads the version under the lock."""
    path = tmp_path / "shared.sqlite"
    _connect(path).close()
    errors: list[BaseException] = []
    checked = threading.Barrier(4)

    def run() -> None:
        with contextlib.closing(_connect(path)) as conn:
            try:
                migrate(_Racing(conn, checked), STEPS)
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with contextlib.closing(_connect(path)) as conn:
        assert [v for v, _ in _rows(conn)] == [1, 2, 3]
