"""Peer liveness: a running job fails, naming the peer, when the peer's heartbeats stop for the
grace period, and goes on when they come back in time; a local outage is not blamed on peers."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flow_support import Cluster, eventually, two_party_job

from flow.liveness import PeerLiveness, unreachable_message
from flow.metrics import FlowMetrics
from flow.settings import FlowSettings
from flow.sql_store import SqlJobStore
from flow.store import JobRecord
from silobridge.config import SettingsError, load_settings
from silobridge.errors import BusUnavailable
from silobridge.flow.v1 import flow_pb2
from silobridge.node.v1 import node_pb2
from silobridge.observability.metrics import ServiceMetrics

GUEST, HOST = 9999, 10000
LIVENESS = {"peer_heartbeat_interval_s": 0.05, "peer_liveness_grace_s": 0.6}


@pytest.fixture
async def two(cluster: Cluster) -> Cluster:
    await cluster.add_party(GUEST, tables=("demo.guest",))
    await cluster.add_party(HOST, tables=("demo.host",))
    for party in (GUEST, HOST):
        cluster.parties[party].hold.add("stats_0")  # the job stays RUNNING
    await cluster.start_flow(GUEST, **LIVENESS)
    await cluster.start_flow(HOST, **LIVENESS)
    return cluster


def job(c: Cluster, party: int) -> JobRecord | None:
    return c.flows[party].store.get_job("job_1")


async def running_everywhere(c: Cluster) -> None:
    assert (await c.client(GUEST).post("/v1/jobs", content=two_party_job())).status_code == 201
    for party in (GUEST, HOST):
        await eventually(
            lambda p=party: (j := job(c, p)) is not None and j.state == "RUNNING",  # type: ignore[misc]
            what=f"job RUNNING at {party}",
        )
    await eventually(lambda: c.router.heartbeats, what="heartbeats on the wire")


async def test_a_dead_peer_router_fails_the_job_at_both_sides_naming_the_other(two: Cluster) -> None:
    await running_everywhere(two)
    two.router.cut.add(HOST)
    cut = time.monotonic()
    for party in (GUEST, HOST):
        await eventually(
            lambda p=party: job(two, p).state == "FAILED",  # type: ignore[union-attr,misc]
            timeout=10,
            what=f"job FAILED at {party}",
        )
    took = time.monotonic() - cut
    grace, interval = LIVENESS["peer_liveness_grace_s"], LIVENESS["peer_heartbeat_interval_s"]
    assert took >= grace - interval, "failed before the grace period ran out"
    guest, host = job(two, GUEST), job(two, HOST)
    assert guest is not None and host is not None
    assert guest.message == unreachable_message([HOST], 0.6)
    assert guest.message.startswith("party 10000 unreachable: no heartbeat for 0.6s")
    assert host.message.startswith("party 9999 unreachable")
    # the task that was running at the guest was cancelled on its node
    assert [c.job_id for c in two.parties[GUEST].cancels()] == ["job_1"]
    metrics = two.flows[GUEST].metrics.registry
    assert metrics.get_sample_value("silobridge_flow_peer_unreachable_total", {"peer": "10000"}) == 1


async def test_a_router_back_within_the_grace_period_changes_nothing(two: Cluster) -> None:
    await running_everywhere(two)
    liveness = two.flows[GUEST].liveness
    assert liveness is not None
    two.router.cut.add(HOST)
    await eventually(
        lambda: (liveness.silence("job_1", HOST) or 0) >= 0.2, timeout=10, what="the guest to miss the host"
    )
    two.router.cut.clear()
    await eventually(lambda: liveness.silence("job_1", HOST) == 0, timeout=10, what="heartbeats again")
    seen = len(two.router.heartbeats)
    await eventually(lambda: len(two.router.heartbeats) > seen + 40, timeout=20, what="more heartbeats")
    assert job(two, GUEST).state == job(two, HOST).state == "RUNNING"  # type: ignore[union-attr]


async def test_heartbeats_name_only_the_jobs_shared_with_the_receiver(two: Cluster) -> None:
    await running_everywhere(two)
    # Each flow beats on its own clock: the first beat on the wire may be either side's alone.
    both = {(GUEST, HOST), (HOST, GUEST)}
    await eventually(
        lambda: both <= {(s, d) for s, d, _ in two.router.heartbeats}, what="heartbeats both ways"
    )
    assert {(s, d) for s, d, _ in two.router.heartbeats} == both
    assert all(list(b.job_ids) == ["job_1"] for _, _, b in two.router.heartbeats)
    # heartbeats are not control messages of a job: the job's conversation is unchanged
    assert two.router.kinds(GUEST, HOST)[:2] == ["propose", "start"]


def test_grace_must_cover_two_heartbeats() -> None:
    with pytest.raises(SettingsError, match="SILOBRIDGE_PEER_LIVENESS_GRACE_S"):
        load_settings(FlowSettings, {"SILOBRIDGE_PEER_LIVENESS_GRACE_S": "5"})
    off = load_settings(FlowSettings, {"SILOBRIDGE_PEER_LIVENESS_GRACE_S": "0"})
    assert off.peer_liveness_grace_s == 0
    assert load_settings(FlowSettings, {}).peer_liveness_grace_s == 30


# ----- the counting rules, on a fake clock -----------------------------------------------------


class Control:
    def __init__(self) -> None:
        self.sent: list[tuple[int, flow_pb2.ControlMessage, float | None]] = []
        self.down = False

    async def send(
        self, dst: int, dst_role: str, src_role: str, msg: flow_pb2.ControlMessage, **kw: Any
    ) -> None:
        if self.down:
            raise BusUnavailable("bus down")
        self.sent.append((dst, msg, kw.get("expires_at")))


class Rig:
    """One flow's liveness over a real store, a fake control channel and a fake clock."""

    def __init__(self, grace_s: float = 3.0) -> None:
        self.now = 1000.0
        self.store = SqlJobStore("sqlite:///:memory:")
        self.control = Control()
        self.failed: list[tuple[str, str]] = []
        self.liveness = PeerLiveness(
            party=GUEST,
            interval_s=1.0,
            grace_s=grace_s,
            store=self.store,
            control=self.control,  # type: ignore[arg-type]
            metrics=FlowMetrics(ServiceMetrics("flow", GUEST).registry),
            fail_job=self._fail,
            clock=lambda: self.now,
        )

    async def _fail(self, job_id: str, message: str) -> None:
        self.failed.append((job_id, message))
        self.store.set_job_state(job_id, "FAILED", message)

    def add_job(self, job_id: str, parties: dict[str, list[int]], state: str = "RUNNING") -> None:
        spec = flow_pb2.JobSpec(
            job_id=job_id,
            initiator_party_id=GUEST,
            parties=[node_pb2.RoleParties(role=r, party_ids=ids) for r, ids in parties.items()],
        )
        self.store.create_job(JobRecord(job_id, spec.SerializeToString(), state, GUEST, 0, 0), [], [])

    async def rounds(self, n: int, step: float = 1.0) -> None:
        for _ in range(n):
            self.now += step
            await self.liveness.round()


async def test_silence_fails_the_job_once_the_grace_is_spent_and_a_beat_resets_it() -> None:
    rig = Rig(grace_s=3.0)
    rig.add_job("j1", {"guest": [GUEST], "host": [HOST], "arbiter": [10001]})
    await rig.rounds(3)  # enters at 0, then 1s, 2s of silence from both peers
    beat = flow_pb2.Heartbeat(job_ids=["j1"])
    rig.liveness.on_heartbeat(HOST, beat)
    await rig.rounds(1)
    assert rig.liveness.silence("j1", HOST) == 0 and rig.liveness.silence("j1", 10001) == 3
    assert rig.failed == [("j1", unreachable_message([10001], 3.0))]
    # heartbeats went to both peers naming the job, expiring after one interval
    assert {(d, tuple(m.heartbeat.job_ids)) for d, m, _ in rig.control.sent} == {
        (HOST, ("j1",)),
        (10001, ("j1",)),
    }
    assert all(exp is not None and exp - time.time() <= 1.0 for _, _, exp in rig.control.sent)


async def test_two_silent_peers_are_both_named() -> None:
    rig = Rig(grace_s=2.0)
    rig.add_job("j1", {"guest": [GUEST], "host": [HOST, 10002]})
    await rig.rounds(3)
    assert rig.failed == [("j1", unreachable_message([HOST, 10002], 2.0))]
    assert rig.failed[0][1].startswith("parties 10000, 10002 unreachable")


async def test_peers_whose_last_heartbeats_came_a_round_apart_are_both_named() -> None:
    """A party cut off from everyone: the peers' last beats landed in different rounds."""
    rig = Rig(grace_s=4.0)
    rig.add_job("j1", {"guest": [GUEST], "host": [HOST], "arbiter": [10001]})
    await rig.rounds(1)
    rig.liveness.on_heartbeat(HOST, flow_pb2.Heartbeat(job_ids=["j1"]))  # the host's last beat, a round late
    await rig.rounds(4)
    assert rig.liveness.silence("j1", 10001) == 4 and rig.liveness.silence("j1", HOST) == 3
    assert rig.failed == [("j1", unreachable_message([HOST, 10001], 4.0))]


async def test_a_peer_silent_for_less_than_the_grace_minus_a_round_is_not_named() -> None:
    rig = Rig(grace_s=4.0)
    rig.add_job("j1", {"guest": [GUEST], "host": [HOST], "arbiter": [10001]})
    await rig.rounds(2)
    rig.liveness.on_heartbeat(HOST, flow_pb2.Heartbeat(job_ids=["j1"]))
    await rig.rounds(3)
    assert rig.liveness.silence("j1", 10001) == 4 and rig.liveness.silence("j1", HOST) == 2
    assert rig.failed == [("j1", unreachable_message([10001], 4.0))]


async def test_a_heartbeat_from_a_party_outside_the_job_keeps_nothing_alive() -> None:
    rig = Rig(grace_s=2.0)
    rig.add_job("j1", {"guest": [GUEST], "host": [HOST]})
    await rig.rounds(1)
    for _ in range(3):
        rig.liveness.on_heartbeat(10005, flow_pb2.Heartbeat(job_ids=["j1"]))
        await rig.rounds(1)
    assert [j for j, _ in rig.failed] == ["j1"]


async def test_this_partys_own_bus_outage_is_not_blamed_on_the_peer() -> None:
    rig = Rig(grace_s=3.0)
    rig.add_job("j1", {"guest": [GUEST], "host": [HOST]})
    await rig.rounds(2)
    rig.control.down = True  # our heartbeats cannot be published: the bus is down here
    await rig.rounds(20)
    assert rig.failed == [] and rig.liveness.silence("j1", HOST) == 1
    rig.control.down = False
    await rig.rounds(1)
    assert rig.failed == []
    await rig.rounds(1)  # now 3s counted while healthy
    assert [j for j, _ in rig.failed] == ["j1"]


async def test_a_stalled_flow_does_not_blame_the_peer_for_its_own_stall() -> None:
    rig = Rig(grace_s=3.0)
    rig.add_job("j1", {"guest": [GUEST], "host": [HOST]})
    await rig.rounds(2)
    await rig.rounds(1, step=60.0)  # this event loop was blocked for a minute
    assert rig.failed == [] and rig.liveness.silence("j1", HOST) == 1


async def test_jobs_not_running_here_are_announced_but_not_watched() -> None:
    rig = Rig(grace_s=2.0)
    rig.add_job("accepted", {"guest": [GUEST], "host": [HOST]}, state="ACCEPTED")
    rig.add_job("held", {"guest": [GUEST], "host": [HOST]}, state="PROPOSED")
    await rig.rounds(5)
    assert rig.failed == [] and rig.liveness.silence("accepted", HOST) is None
    assert {tuple(m.heartbeat.job_ids) for _, m, _ in rig.control.sent} == {("accepted",)}


async def test_grace_zero_never_fails_a_job_but_still_sends_heartbeats() -> None:
    rig = Rig(grace_s=0.0)
    rig.add_job("j1", {"guest": [GUEST], "host": [HOST]})
    await rig.rounds(100)
    assert rig.failed == [] and len(rig.control.sent) == 100
