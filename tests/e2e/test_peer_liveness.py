"""Peer liveness at three single-process parties: when the host's router goes away mid-training
the job fails at the other parties within the grace period, naming the host; when it comes
back within the grace period the job completes with the same model as an undisturbed run."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from jobs import job_detail, model, submit, submit_and_wait, task_summary, vertical_job, wait
from parties import ROLES, InProcessParties

from flow.service import FlowService
from silobridge_cli import demo_data
from silobridge_cli.demo import upload

pytestmark = [pytest.mark.slow]

INTERVAL_S, GRACE_S = 1.0, 10.0
# How late after the grace a job may end FAILED on a loaded test machine (rounds, lock, API poll).
MARGIN_S = 30.0
ROUTER = "rollsite-router"
HOST = ROLES["host"]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessParties]:
    settings = {"peer_heartbeat_interval_s": INTERVAL_S, "peer_liveness_grace_s": GRACE_S}
    p = InProcessParties(Path(tmp_path_factory.mktemp("liveness")), extra={"flow": settings})
    try:
        p.start()
        x, y = demo_data.load("breast_cancer")
        split = demo_data.split(x, y, 10)
        upload(p.flow("guest"), split.guest_csv, namespace="demo", name="guest", label_column="y")
        upload(p.flow("host"), split.host_csv, namespace="demo", name="host")
        yield p
    finally:
        p.stop()


def _flow(p: InProcessParties, role: str) -> FlowService:
    service = p.parties[ROLES[role]].services["flow"].service
    assert isinstance(service, FlowService)
    return service


def _until(check: Any, timeout_s: float, what: str, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    pytest.fail(f"timed out after {timeout_s:g}s waiting for {what}")


def _training(p: InProcessParties, job_id: str) -> None:
    def check() -> bool:
        detail = job_detail(p.flow("guest"), job_id)
        assert detail["state"] in ("PROPOSED", "ACCEPTED", "RUNNING"), detail["message"]
        return any(t["name"] == "hetero_lr_0" and t["state"] == "RUNNING" for t in detail["tasks"])

    _until(check, 180, "hetero_lr_0 to start")


def _named(message: str) -> set[int]:
    """The parties a peer-liveness failure names ("party 1 unreachable: ..." / "parties 1, 2 ...")."""
    found = re.match(rf"^part(?:y|ies) ([\d, ]+) unreachable: no heartbeat for {GRACE_S:g}s", message)
    assert found, message
    return {int(p) for p in found.group(1).split(", ")}


def _state(p: InProcessParties, role: str, job_id: str) -> dict[str, Any] | None:
    detail = job_detail(p.flow(role), job_id)
    return detail if detail["state"] not in ("PROPOSED", "ACCEPTED", "RUNNING") else None


def test_dead_peer_router_fails_the_job_naming_the_peer_within_the_grace(live: InProcessParties) -> None:
    job_id = submit(live.flow("guest"), vertical_job(epochs=10))
    _training(live, job_id)
    live.run(live.parties[HOST].stop_service(ROUTER))
    cut = time.monotonic()
    try:
        guest = _until(lambda: _state(live, "guest", job_id), GRACE_S + MARGIN_S, "the guest to end the job")
        took = time.monotonic() - cut
        arbiter = _until(lambda: _state(live, "arbiter", job_id), MARGIN_S, "the arbiter to end the job")
        host = _until(lambda: _state(live, "host", job_id), MARGIN_S, "the cut-off host to end the job")
    finally:
        live.run(live.parties[HOST].restart_service(ROUTER))
    print(
        f"peer liveness: guest failed the job {took:.1f}s after the host's router stopped (grace {GRACE_S:g}s)"
    )
    assert guest["state"] == "FAILED"
    assert HOST in _named(guest["message"]), guest
    # silence is counted in rounds of one heartbeat interval: the grace holds to within one
    assert GRACE_S - INTERVAL_S <= took <= GRACE_S + MARGIN_S
    # The arbiter names the host, and may name the guest too: the guest's router spends its
    # outbound slots retrying messages for the dead host, so its heartbeats to the arbiter can
    # expire unsent (docs/router.md, "Limits").
    assert arbiter["state"] == "FAILED" and HOST in _named(arbiter["message"]), arbiter
    # the host, cut off, heard nobody: it names both other parties
    assert host["state"] == "FAILED"
    assert _named(host["message"]) == {ROLES["guest"], ROLES["arbiter"]}, host
    lr = next(t for t in guest["tasks"] if t["name"] == "hetero_lr_0" and t["party_id"] == ROLES["guest"])
    assert lr["state"] == "CANCELLED"


def test_router_back_within_the_grace_the_job_completes_as_undisturbed(live: InProcessParties) -> None:
    undisturbed = submit_and_wait(live.flow("guest"), vertical_job(epochs=10), timeout_s=300)
    assert undisturbed["state"] == "SUCCEEDED", undisturbed["message"]

    job_id = submit(live.flow("guest"), vertical_job(epochs=10))
    _training(live, job_id)
    liveness = _flow(live, "guest").liveness
    assert liveness is not None
    live.run(live.parties[HOST].stop_service(ROUTER))
    try:
        _until(
            lambda: (liveness.silence(job_id, HOST) or 0) >= 2 * INTERVAL_S,
            GRACE_S,
            "the guest to miss the host's heartbeats",
        )
        assert job_detail(live.flow("guest"), job_id)["state"] == "RUNNING"
    finally:
        live.run(live.parties[HOST].restart_service(ROUTER))
    # heard again (or the job already ended here, which the state check below then tells)
    _until(lambda: not liveness.silence(job_id, HOST), GRACE_S, "the host's heartbeats again")

    job = wait(live.flow("guest"), job_id, timeout_s=300)
    assert job["state"] == "SUCCEEDED", job["message"]
    for role in ROLES:
        assert job_detail(live.flow(role), job_id)["state"] == "SUCCEEDED", role
    assert task_summary(job, "evaluation_0")["auc"] == task_summary(undisturbed, "evaluation_0")["auc"]
    for role in ("guest", "host"):
        np.testing.assert_allclose(
            model(live.flow(role), job_id, "hetero_lr_0")["weights"],
            model(live.flow(role), undisturbed["job_id"], "hetero_lr_0")["weights"],
            atol=1e-9,
            err_msg=f"{role}: the router outage changed the model",
        )
