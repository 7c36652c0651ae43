"""Idempotency on the envelope's message id: at-least-once delivery, effects applied once."""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from pathlib import Path


class Deduplicator:
    """Remembers the last ``capacity`` message ids; optionally persisted in SQLite.

    Usage: ``if dedup.seen(mid): return`` before the effect, ``dedup.mark(mid)`` after it.
    With a path, the ids survive a process crash, so a message redelivered after the effect
    was applied but before the ack is recognised.
    """

    def __init__(self, capacity: int = 100_000, path: Path | None = None) -> None:
        self._capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS seen (id TEXT PRIMARY KEY)")

    def seen(self, message_id: str) -> bool:
        with self._lock:
            if message_id in self._ids:
                return True
            if self._db is not None:
                row = self._db.execute("SELECT 1 FROM seen WHERE id = ?", (message_id,)).fetchone()
                return row is not None
            return False

    def mark(self, message_id: str) -> None:
        with self._lock:
            self._ids[message_id] = None
            self._ids.move_to_end(message_id)
            while len(self._ids) > self._capacity:
                self._ids.popitem(last=False)
            if self._db is not None:
                self._db.execute("INSERT OR IGNORE INTO seen (id) VALUES (?)", (message_id,))

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
