"""Tells this party's router which jobs' federation sessions to admit (topic ``router.jobs``).

The router creates inbound bus groups only for jobs this party accepted (see the router's
``admission`` module). Flow is where acceptance is decided, so every job state change that
matters is sent on: ACCEPTED or RUNNING opens the job's sessions, a final state closes them.
Updates go out in order; the coordinator flushes them before it sends any control message, so
the router hears OPEN before a peer is told to start. An update that cannot be published stays
queued and is sent with the next one; at start and every ``READMIT_INTERVAL_S`` flow repeats OPEN
for every job still open here, so a router that lost its record relearns them.
"""

from __future__ import annotations

import asyncio
import logging

from flow.states import ACCEPTED, JOB_FINAL, RUNNING
from silobridge import topics
from silobridge.bus.base import Bus
from silobridge.router.v1 import router_pb2

log = logging.getLogger(__name__)

READMIT_INTERVAL_S = 30.0
ROUTER_JOBS_GROUP = "router-jobs"  # the router's group; declared here too so no update is lost


class RouterAdmissions:
    def __init__(self, bus: Bus) -> None:
        self._bus = bus
        self._pending: list[router_pb2.JobAdmissionUpdate] = []
        self._sent: dict[str, int] = {}
        self._lock = asyncio.Lock()
        self._flusher: asyncio.Task[None] | None = None
        self._declared = False

    def note(self, job_id: str, state: str) -> None:
        """Queue the router update a job state implies (none for PROPOSED), and send it soon."""
        if state in (ACCEPTED, RUNNING):
            admission = router_pb2.JOB_ADMISSION_OPEN
        elif state in JOB_FINAL:
            admission = router_pb2.JOB_ADMISSION_CLOSED
        else:
            return
        if self._sent.get(job_id) == admission or any(
            u.job_id == job_id and u.admission == admission for u in self._pending
        ):
            return
        self._pending.append(router_pb2.JobAdmissionUpdate(job_id=job_id, admission=admission))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush_quietly())

    def repeat(self, open_jobs: dict[str, str]) -> None:
        """Queue OPEN again for every job still open here (``job_id -> state``), sent or not.

        A router that lost its record (a new pod without a persistent data dir) relearns them.
        """
        self._sent = {j: a for j, a in self._sent.items() if j in open_jobs}
        for job_id, state in open_jobs.items():
            self._sent.pop(job_id, None)
            self.note(job_id, state)

    async def flush(self) -> None:
        """Publish every queued update, in order; raises the bus error (the rest stays queued)."""
        async with self._lock:
            if not self._declared:
                await self._bus.declare_group(topics.ROUTER_JOBS, ROUTER_JOBS_GROUP)
                self._declared = True
            while self._pending:
                update = self._pending[0]
                await self._bus.publish(topics.ROUTER_JOBS, update.SerializeToString())
                self._pending.pop(0)
                if update.admission == router_pb2.JOB_ADMISSION_CLOSED:
                    self._sent.pop(update.job_id, None)  # closed for good at the router
                else:
                    self._sent[update.job_id] = update.admission

    async def _flush_quietly(self) -> None:
        try:
            await self.flush()
        except Exception as exc:  # kept queued: the next note or control message retries
            log.warning("cannot tell the router about %d job(s) yet: %s", len(self._pending), exc)

    async def close(self) -> None:
        flusher, self._flusher = self._flusher, None
        if flusher is not None and not flusher.done():
            await asyncio.wait({flusher}, timeout=5.0)
