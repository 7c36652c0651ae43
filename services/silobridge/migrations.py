"""Versioned schema migrations for the services' SQL stores (flow, cluster-manager).

A store declares its schema as an ordered list of :class:`Migration` steps, numbered 1, 2, 3...
:func:`migrate` applies the steps a database has not had yet, in order, each inside its own
transaction together with its row in the version table (``version``, ``description``,
``applied``), so a step is applied once or not at all. The database's version is the highest row.

Step 1 is the schema as it was before versions existed, and only ``CREATE ... IF NOT EXISTS``:
on a new database it creates everything, on a database from before the version table (which
has the tables already) it changes nothing and records version 1. A released step is never
edited; a change of schema is a new step at the end.

A database whose version is higher than the code knows (an older release started against a
newer database) is refused with :class:`SchemaTooNew` before anything is written.

Concurrent starts against one database (two replicas during a rolling upgrade) are safe when the
store's transactions exclude each other: SQLite's ``BEGIN IMMEDIATE``, an advisory lock on
PostgreSQL. Each step re-reads the version inside its transaction.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from silobridge.errors import PermanentError

VERSION_TABLE = "schema_version"


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    #: SQL statements run in order, in one transaction with the version row.
    statements: tuple[str, ...]


class SchemaTooNew(PermanentError):
    """The database was migrated by a newer release than this one; nothing was changed."""

    code = "schema_too_new"


class SchemaDb(Protocol):
    """What :func:`migrate` needs of a store's connection; parameters are written ``?``."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None: ...

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        """One transaction that excludes other migrators of the same database until it ends."""
        ...


def latest_version(steps: Sequence[Migration]) -> int:
    """The version the steps lead to; they must be numbered 1..n in order."""
    numbers = [s.version for s in steps]
    if numbers != list(range(1, len(steps) + 1)):
        raise ValueError(f"migration steps must be numbered 1..n in order, got {numbers}")
    return len(steps)


def current_version(db: SchemaDb, *, table: str = VERSION_TABLE) -> int:
    """The version recorded in ``table`` (0: no step applied yet); creates the table if missing."""
    db.execute(
        f"CREATE TABLE IF NOT EXISTS {table} (version INTEGER PRIMARY KEY, "
        "description TEXT NOT NULL, applied DOUBLE PRECISION NOT NULL)"
    )
    return int(db.query(f"SELECT COALESCE(MAX(version), 0) FROM {table}")[0][0])


def migrate(
    db: SchemaDb, steps: Sequence[Migration], *, table: str = VERSION_TABLE, what: str = "database"
) -> int:
    """Bring the database to the newest version of ``steps``; the version it is at now."""
    latest = latest_version(steps)
    with db.transaction():
        current = _known(db, table, latest, what)
    for step in steps[current:]:
        with db.transaction():
            current = _known(db, table, latest, what)  # another process may have applied it
            if current >= step.version:
                continue
            for statement in step.statements:
                db.execute(statement)
            db.execute(
                f"INSERT INTO {table} (version, description, applied) VALUES (?, ?, ?)",
                (step.version, step.description, time.time()),
            )
            current = step.version
    return current


def _known(db: SchemaDb, table: str, latest: int, what: str) -> int:
    current = current_version(db, table=table)
    if current > latest:
        raise SchemaTooNew(
            f"the {what} has schema version {current}, but this release knows versions up to "
            f"{latest}: it was upgraded by a newer release; run that release (or newer) against it. "
            "Nothing was changed."
        )
    return current


class SqliteSchemaDb:
    """:class:`SchemaDb` over a sqlite3 connection opened with ``isolation_level=None``."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._db.execute(sql, tuple(params))

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self._db.execute(sql, tuple(params)).fetchall())

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")  # the write lock at once: migrators queue here
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
