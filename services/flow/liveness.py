"""Peer liveness: the flows of a job's parties send each other heartbeats through their routers.

Every ``peer_heartbeat_interval_s`` this flow sends one ``Heartbeat`` control message to each
peer it shares an ACCEPTED or RUNNING job with, naming those jobs; a heartbeat expires (the
router drops it unsent) after one interval, so a dead peer never queues old heartbeats. For each
job RUNNING here and each of its peers, flow counts how long no heartbeat naming the job came
from that peer. Past ``peer_liveness_grace_s`` the job fails here with a message naming the
silent peers (at the initiator it then fails everywhere; elsewhere the initiator is told). A
peer heard again within the grace resets its count: the job goes on.

The heartbeat travels the same path as the job's data (this flow, this party's bus and router,
the network, the peer's router, bus and flow), so silence means one of them is down; which
one is not knowable from here, and the message says so. Silence is counted only while this
party itself is healthy: a round whose heartbeats could not be published in time (this party's
bus is down) or that ran late (this event loop was blocked) adds nothing, so that a local outage
is not blamed on the peers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable

from flow import jobspec
from flow.control import ControlChannel
from flow.metrics import FlowMetrics
from flow.scheduler import load_spec
from flow.states import ACCEPTED, RUNNING
from flow.store import JobStore
from silobridge.flow.v1 import flow_pb2

log = logging.getLogger(__name__)

#: Job ids per heartbeat sent; more shared jobs take several heartbeats.
MAX_JOBS_PER_HEARTBEAT = 1000
#: Job ids of one received heartbeat that are looked at; the rest are ignored.
MAX_JOBS_READ = 10_000
#: A round is on time when it starts at most this many intervals after the previous one.
LATE_ROUNDS = 3.0

FailJob = Callable[[str, str], Awaitable[None]]


def unreachable_message(peers: Iterable[int], grace_s: float) -> str:
    """What a job that failed for silent peers says, naming them."""
    ids = sorted(peers)
    names = ", ".join(str(p) for p in ids)
    if len(ids) == 1:
        who, whose = f"party {names}", "its router, its flow"
    else:
        who, whose = f"parties {names}", "their routers, their flows"
    return (
        f"{who} unreachable: no heartbeat for {grace_s:g}s (peer liveness grace); "
        f"{whose} or the network between the parties is down"
    )


class PeerLiveness:
    """Sends this party's heartbeats and fails running jobs whose peers fell silent."""

    def __init__(
        self,
        *,
        party: int,
        interval_s: float,
        grace_s: float,
        store: JobStore,
        control: ControlChannel,
        metrics: FlowMetrics,
        fail_job: FailJob,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.party = party
        self.interval_s = interval_s
        self.grace_s = grace_s
        self._store = store
        self._control = control
        self._metrics = metrics
        self._fail_job = fail_job
        self._clock = clock
        self._silence: dict[tuple[str, int], float] = {}  # (job, peer) of a RUNNING job -> seconds
        self._heard: set[tuple[str, int]] = set()  # heartbeats since the last round
        self._last_round: float | None = None

    def on_heartbeat(self, sender: int, beat: flow_pb2.Heartbeat) -> None:
        """A peer's heartbeat (the router vouches for ``sender``): it is alive for the jobs it names."""
        self._metrics.heartbeats.labels("in").inc()
        for job_id in beat.job_ids[:MAX_JOBS_READ]:
            key = (job_id, sender)
            if key in self._silence:  # only jobs this party runs with the sender count
                self._heard.add(key)

    def silence(self, job_id: str, peer: int) -> float | None:
        """Seconds counted since ``peer`` last named ``job_id``; None when not watched."""
        return self._silence.get((job_id, peer))

    async def round(self) -> None:
        """One round: send the heartbeats, then count silence and fail jobs past the grace."""
        now = self._clock()
        elapsed = 0.0 if self._last_round is None else now - self._last_round
        self._last_round = now
        active = self._active_jobs()
        sent = await self._send(active)
        on_time = elapsed <= LATE_ROUNDS * self.interval_s
        counted = elapsed if sent and on_time else 0.0
        if elapsed and not counted:
            log.warning(
                "peer liveness: %.1fs not counted (%s)",
                elapsed,
                "heartbeats could not be published" if not sent else "this flow ran late",
            )
        expired = self._count(active, counted)
        for job_id, peers in expired.items():
            message = unreachable_message(peers, self.grace_s)
            log.warning("job %s: %s", job_id, message, extra={"job_id": job_id})
            for peer in peers:
                self._metrics.peer_unreachable.labels(str(peer)).inc()
            await self._fail_job(job_id, message)

    def _active_jobs(self) -> dict[str, tuple[str, list[int]]]:
        """ACCEPTED and RUNNING jobs here: job id -> (state, the other parties)."""
        out: dict[str, tuple[str, list[int]]] = {}
        for job in self._store.list_jobs(limit=10_000, states=(ACCEPTED, RUNNING)):
            peers = [p for p in jobspec.party_roles(load_spec(job.spec)) if p != self.party]
            if peers:
                out[job.job_id] = (job.state, peers)
        return out

    async def _send(self, active: dict[str, tuple[str, list[int]]]) -> bool:
        """Heartbeats to every peer of an active job; False when they were not all published in time."""
        by_peer: dict[int, list[str]] = {}
        for job_id, (_, peers) in active.items():
            for peer in peers:
                by_peer.setdefault(peer, []).append(job_id)
        if not by_peer:
            return True
        expires_at = time.time() + self.interval_s
        sends = [
            self._control.send(
                peer,
                "",
                "",
                flow_pb2.ControlMessage(
                    heartbeat=flow_pb2.Heartbeat(job_ids=ids[i : i + MAX_JOBS_PER_HEARTBEAT])
                ),
                expires_at=expires_at,
            )
            for peer, ids in sorted(by_peer.items())
            for i in range(0, len(ids), MAX_JOBS_PER_HEARTBEAT)
        ]
        try:
            async with asyncio.timeout(self.interval_s):
                results = await asyncio.gather(*sends, return_exceptions=True)
        except TimeoutError:
            log.warning("peer liveness: heartbeats not published within %gs", self.interval_s)
            return False
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            log.warning("peer liveness: %d heartbeat(s) not published: %s", len(errors), errors[0])
        self._metrics.heartbeats.labels("out").inc(len(results) - len(errors))
        return not errors

    def _count(self, active: dict[str, tuple[str, list[int]]], counted: float) -> dict[str, list[int]]:
        """Add ``counted`` seconds to every (running job, peer) not heard; those past the grace."""
        watched: dict[tuple[str, int], float] = {}
        for job_id, (state, peers) in active.items():
            if state != RUNNING:
                continue
            for peer in peers:
                key = (job_id, peer)
                if key not in self._silence or key in self._heard:
                    watched[key] = 0.0  # newly running here, or heard since the last round
                else:
                    watched[key] = self._silence[key] + counted
        self._silence, self._heard = watched, set()
        loudest: dict[int, float] = {}
        expired: dict[str, list[int]] = {}
        for (job_id, peer), silent in watched.items():
            loudest[peer] = max(loudest.get(peer, 0.0), silent)
            if self.grace_s and silent >= self.grace_s:
                expired.setdefault(job_id, []).append(peer)
        # Silence is counted in rounds, and two peers' last heartbeats may have come a round apart:
        # a peer of a failing job that is within one round of the grace is as silent at this
        # granularity, and is named too (a party cut off from everyone names everyone).
        near = max(self.grace_s - self.interval_s, self.interval_s)
        for (job_id, peer), silent in watched.items():
            if job_id in expired and peer not in expired[job_id] and silent >= near:
                expired[job_id].append(peer)
        self._metrics.peer_silence.clear()
        for peer, silent in loudest.items():
            self._metrics.peer_silence.labels(str(peer)).set(silent)
        return expired


async def heartbeats(liveness: PeerLiveness) -> None:
    """Background loop of liveness rounds; errors are logged, never fatal."""
    while True:
        await asyncio.sleep(liveness.interval_s)
        try:
            await liveness.round()
        except Exception:
            log.exception("peer liveness round failed")
