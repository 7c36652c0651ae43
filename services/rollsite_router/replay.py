"""Replay protection of inbound envelopes: a send-time window and a dedup record that survives restart.

An envelope is admitted only if its signed ``sent_at`` lies within ``window_s`` of this router's
clock (either side, for clock skew), and published only once per ``<source party>:<message id>``.
The ids are kept in SQLite in the router's data dir (and the newest in memory), each for
``retention_s`` after it was first seen; since retention is at least twice the window, any
envelope still inside the window is still in the record, so the record is bounded by the traffic
of one retention period and never grows beyond it.

A replay of a recorded envelope is therefore refused by the window once it is old, and recognised
as a duplicate (acked, not published again) while it is fresh, also after a restart; changing its
message id or ``sent_at`` breaks its signature (:mod:`rollsite_router.signing`).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from rollsite_router.state_db import open_state_db
from silobridge.errors import PermissionDenied
from silobridge.federation.v1 import envelope_pb2 as env_pb

STATE_FILE = "router-replay.sqlite"


class OutsideWindow(PermissionDenied):
    """An envelope sent too long ago (or too far in the future) for this router's window."""


def check_window(env: env_pb.Envelope, window_s: float, now: float) -> None:
    """Refuse an envelope whose ``sent_at`` is missing or more than ``window_s`` from ``now``."""
    if not env.HasField("sent_at") or env.sent_at.seconds <= 0:
        raise OutsideWindow(
            f"envelope {env.message_id[:128]} has no send time",
            public_message="envelope has no send time",
        )
    sent = env.sent_at.seconds + env.sent_at.nanos / 1e9
    skew = now - sent
    if abs(skew) > window_s:
        raise OutsideWindow(
            f"envelope {env.message_id[:128]} was sent {skew:.0f}s from now, outside the window of {window_s:g}s",
            public_message=f"envelope send time is outside the receiver's window of {window_s:g}s "
            "(a replay, or a clock off by that much)",
        )


class ReplayRecord:
    """Message ids seen, with the time each is forgotten; in memory and in SQLite (``path``)."""

    def __init__(
        self,
        path: Path | None,
        *,
        retention_s: float,
        memory_capacity: int = 100_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.retention_s = retention_s
        self._capacity = memory_capacity
        self._clock = clock
        self._recent: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        if path is not None:
            self._db = open_state_db(
                path,
                "CREATE TABLE IF NOT EXISTS seen (id TEXT PRIMARY KEY, expires REAL NOT NULL)",
                "CREATE INDEX IF NOT EXISTS seen_expires ON seen (expires)",
            )

    def seen(self, key: str) -> bool:
        now = self._clock()
        with self._lock:
            expires = self._recent.get(key)
            if expires is not None:
                return expires > now
            if self._db is None:
                return False
            row = self._db.execute("SELECT expires FROM seen WHERE id = ?", (key,)).fetchone()
            return row is not None and float(row[0]) > now

    def mark(self, key: str) -> None:
        expires = self._clock() + self.retention_s
        with self._lock:
            self._recent[key] = expires
            self._recent.move_to_end(key)
            while len(self._recent) > self._capacity:
                self._recent.popitem(last=False)
            if self._db is not None:
                self._db.execute("INSERT OR REPLACE INTO seen (id, expires) VALUES (?, ?)", (key, expires))

    def purge(self) -> int:
        """Forget ids past their retention; returns how many rows were deleted."""
        now = self._clock()
        with self._lock:
            for key in [k for k, exp in self._recent.items() if exp <= now]:
                del self._recent[key]
            if self._db is None:
                return 0
            return self._db.execute("DELETE FROM seen WHERE expires <= ?", (now,)).rowcount

    def __len__(self) -> int:
        with self._lock:
            if self._db is None:
                return len(self._recent)
            return int(self._db.execute("SELECT COUNT(*) FROM seen").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
