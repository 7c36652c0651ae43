"""The router's small SQLite files in its data dir (replay record, admitted jobs)."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def open_state_db(path: Path, *schema: str) -> sqlite3.Connection:
    """Autocommit, WAL, synchronous=NORMAL: each write survives a crash of the process."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    for statement in schema:
        db.execute(statement)
    return db
