"""Which jobs' federation sessions the router admits: only those this party accepted.

Flow tells the router on the bus (topic ``router.jobs``, :class:`JobAdmissionUpdate`): OPEN when
this party accepted a job (or submitted it), CLOSED when the job ended here. Inbound, an envelope
for a session of an open job is delivered (its bus group is created on first use); one of a
closed job is refused for good (the sender dead-letters it); one of a job the router has not heard
of is refused as retryable, since flow's OPEN may still be on its way while the peer's first value
already arrives, and it never creates a bus group. Control messages (proposals) need no session.

The record is kept in SQLite in the router's data dir, so a restarted router still knows which
jobs are open; closed jobs are forgotten after ``closed_retention_s``.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from rollsite_router.state_db import open_state_db
from silobridge.bus.base import check_word
from silobridge.errors import PermissionDenied, RetryableError
from silobridge.router.v1 import router_pb2

STATE_FILE = "router-jobs.sqlite"
OPEN, CLOSED = "open", "closed"


class FinishedSession(PermissionDenied):
    """An envelope for a job that ended at this party."""


class UnknownSession(RetryableError):
    """An envelope for a job this party has not accepted (or not yet)."""


class JobAdmissions:
    """Open and closed jobs, in memory and in SQLite (``path``; None: memory only)."""

    def __init__(
        self,
        path: Path | None,
        *,
        closed_retention_s: float = 7 * 86400,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.closed_retention_s = closed_retention_s
        self._clock = clock
        self._jobs: dict[str, str] = {}
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        if path is not None:
            self._db = open_state_db(
                path,
                "CREATE TABLE IF NOT EXISTS jobs (job_id TEXT PRIMARY KEY, state TEXT NOT NULL, updated REAL NOT NULL)",
            )
            self._jobs = dict(self._db.execute("SELECT job_id, state FROM jobs").fetchall())

    def state(self, job_id: str) -> str | None:
        return self._jobs.get(job_id)

    def check(self, session: str) -> None:
        """Raise unless ``session`` (``<job_id>.<task>.<attempt>``) belongs to an open job."""
        job_id = session.split(".", 1)[0]
        state = self._jobs.get(job_id)
        if state == OPEN:
            return
        if state == CLOSED:
            raise FinishedSession(
                f"session {session} of job {job_id}, which ended here",
                public_message=f"job {job_id} has ended at this party",
            )
        raise UnknownSession(
            f"session {session} of job {job_id}, which this party has not accepted",
            public_message=f"job {job_id} is not running at this party (yet)",
        )

    def apply(self, update: router_pb2.JobAdmissionUpdate) -> bool:
        """Record flow's update; a closed job never opens again. True when something changed."""
        job_id = check_word(update.job_id, "job id")
        if update.admission == router_pb2.JOB_ADMISSION_OPEN:
            state = OPEN
        elif update.admission == router_pb2.JOB_ADMISSION_CLOSED:
            state = CLOSED
        else:
            raise ValueError(f"job admission update for {job_id} without an admission")
        with self._lock:
            current = self._jobs.get(job_id)
            if current == state or current == CLOSED:
                return False
            self._jobs[job_id] = state
            if self._db is not None:
                self._db.execute(
                    "INSERT OR REPLACE INTO jobs (job_id, state, updated) VALUES (?, ?, ?)",
                    (job_id, state, self._clock()),
                )
        return True

    def purge(self) -> int:
        """Forget jobs closed longer than the retention ago."""
        if self._db is None:
            return 0
        cutoff = self._clock() - self.closed_retention_s
        with self._lock:
            gone = [
                r[0]
                for r in self._db.execute(
                    "SELECT job_id FROM jobs WHERE state = ? AND updated < ?", (CLOSED, cutoff)
                ).fetchall()
            ]
            self._db.execute("DELETE FROM jobs WHERE state = ? AND updated < ?", (CLOSED, cutoff))
            for job_id in gone:
                self._jobs.pop(job_id, None)
        return len(gone)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
