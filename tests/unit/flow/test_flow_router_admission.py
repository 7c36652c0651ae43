"""Flow tells its router which jobs' sessions to admit: OPEN once this party accepted, CLOSED at the end.

The router creates inbound bus groups only for OPEN jobs, so what flow publishes on ``router.jobs``
decides whether a peer's values can reach this party at all.
"""

from __future__ import annotations

import pytest
from flow_support import Cluster, eventually, two_party_job

from flow.admission import RouterAdmissions
from silobridge import topics
from silobridge.bus.base import Message
from silobridge.bus.memory import MemoryBus
from silobridge.router.v1 import router_pb2

GUEST, HOST = 9999, 10000
OPEN, CLOSED = router_pb2.JOB_ADMISSION_OPEN, router_pb2.JOB_ADMISSION_CLOSED


@pytest.fixture
async def two(cluster: Cluster) -> Cluster:
    await cluster.add_party(GUEST, tables=("demo.guest",))
    await cluster.add_party(HOST, tables=("demo.host",))
    return cluster


async def _router_view(c: Cluster, party: int) -> list[tuple[str, int]]:
    """What the party's router would read from ``router.jobs`` (its own group)."""
    seen: list[tuple[str, int]] = []

    async def on_update(msg: Message) -> None:
        update = router_pb2.JobAdmissionUpdate.FromString(msg.body)
        seen.append((update.job_id, update.admission))

    await c.parties[party].bus.subscribe(topics.ROUTER_JOBS, on_update, group="router-jobs")
    return seen


async def test_both_parties_open_the_job_they_run_and_close_it_when_it_ends(two: Cluster) -> None:
    views = {p: await _router_view(two, p) for p in (GUEST, HOST)}
    await two.start_flow(GUEST)
    await two.start_flow(HOST)
    assert (await two.client(GUEST).post("/v1/jobs", content=two_party_job())).status_code == 201
    for p in (GUEST, HOST):
        await eventually(
            lambda p=p: views[p] == [("job_1", OPEN), ("job_1", CLOSED)], what=f"router view at {p}"
        )


async def test_a_refused_job_is_never_opened(two: Cluster) -> None:
    del two.parties[HOST].tables["demo.host"]
    view = await _router_view(two, HOST)
    await two.start_flow(GUEST)
    await two.start_flow(HOST)
    await two.client(GUEST).post("/v1/jobs", content=two_party_job())
    await eventually(lambda: view == [("job_1", CLOSED)], what="refused job closed at the host")


async def test_open_jobs_are_repeated_for_a_router_that_lost_its_record() -> None:
    bus = MemoryBus()
    await bus.start()
    got: list[tuple[str, int]] = []

    async def on_update(msg: Message) -> None:
        update = router_pb2.JobAdmissionUpdate.FromString(msg.body)
        got.append((update.job_id, update.admission))

    admissions = RouterAdmissions(bus)
    try:
        admissions.note("job_a", "ACCEPTED")
        admissions.note("job_a", "RUNNING")  # still open: nothing new to say
        admissions.note("job_b", "RUNNING")
        admissions.note("job_b", "FAILED")
        await admissions.flush()
        await bus.subscribe(topics.ROUTER_JOBS, on_update, group="router-jobs")  # kept for a late router
        await eventually(lambda: got == [("job_a", OPEN), ("job_b", OPEN), ("job_b", CLOSED)], what="updates")
        admissions.repeat({"job_a": "RUNNING"})  # what flow does at start and every 30 s
        await admissions.flush()
        await eventually(lambda: got[3:] == [("job_a", OPEN)], what="job_a repeated")
    finally:
        await admissions.close()
        await bus.close()
