"""Each party's services as separate OS processes on a real broker (RabbitMQ, and Pulsar with
one tenant/namespace per party): the main job runs to the same result as in the single-process
mode, and survives the broker restarting in the middle of training."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from brokers import restart_broker
from deployments import Deployment, deployed
from jobs import job_detail, model, submit, submit_and_wait, task_summary, vertical_job, wait
from parties import ROLES, InProcessParties

from silobridge_cli import demo_data
from silobridge_cli.demo import upload

pytestmark = [pytest.mark.multiprocess, pytest.mark.slow]

BROKERS = [
    pytest.param("rabbitmq", marks=pytest.mark.rabbitmq),
    pytest.param("pulsar", marks=pytest.mark.pulsar),
]


@pytest.fixture(scope="module", params=BROKERS)
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    broker = request.param
    with deployed(broker, Path(tmp_path_factory.mktemp(f"multiprocess-{broker}"))) as started:
        yield started


@pytest.fixture(scope="module")
def split() -> demo_data.VerticalSplit:
    x, y = demo_data.load("breast_cancer")
    return demo_data.split(x, y, 10)


@pytest.fixture(scope="module")
def reference(parties: InProcessParties, split: demo_data.VerticalSplit) -> dict[str, Any]:
    """The single-process result the multi-process runs must reproduce."""
    flows = {role: parties.flow(role) for role in ROLES}
    job = _run_job(flows, split, "single-process")
    weights = {
        role: model(flows[role], job["job_id"], "hetero_lr_0")["weights"] for role in ("guest", "host")
    }
    return {"auc": task_summary(job, "evaluation_0")["auc"], "weights": weights}


def _upload(flows: dict[str, str], split: demo_data.VerticalSplit) -> None:
    upload(flows["guest"], split.guest_csv, namespace="demo", name="guest", label_column="y")
    upload(flows["host"], split.host_csv, namespace="demo", name="host")


def _run_job(flows: dict[str, str], split: demo_data.VerticalSplit, tag: str) -> dict[str, Any]:
    _upload(flows, split)
    job = submit_and_wait(flows["guest"], vertical_job(), timeout_s=300)
    assert job["state"] == "SUCCEEDED", f"{tag}: {job['message']}"
    return job


def _assert_same_model(
    flows: dict[str, str], job: dict[str, Any], reference: dict[str, Any], split: demo_data.VerticalSplit
) -> None:
    for role in ROLES:
        detail = job_detail(flows[role], job["job_id"])
        assert detail["state"] == "SUCCEEDED", (role, detail["message"])
    auc = task_summary(job, "evaluation_0")["auc"]
    assert auc > 0.97
    assert auc == pytest.approx(reference["auc"], abs=1e-9)
    assert task_summary(job, "psi_0")["intersected_rows"] == len(split.common_ids)
    for role in ("guest", "host"):
        weights = model(flows[role], job["job_id"], "hetero_lr_0")["weights"]
        np.testing.assert_allclose(
            weights, reference["weights"][role], atol=1e-6, err_msg=f"{role} weights differ between modes"
        )


def test_same_job_same_result_as_single_process(
    deployment: Deployment, reference: dict[str, Any], split: demo_data.VerticalSplit
) -> None:
    flows = deployment.flows()
    job = _run_job(flows, split, f"multi-process on {deployment.broker}")
    _assert_same_model(flows, job, reference, split)


def test_every_service_process_counts_messages(deployment: Deployment) -> None:
    for pid, cluster in deployment.clusters.items():
        names = sorted(cluster.urls)
        assert [n for n in names if not n.startswith("node-manager")] == [
            "cluster-manager",
            "flow",
            "rollsite-router",
            "serving",
        ]
        assert any(n.startswith("node-manager") for n in names)
        # serving: its own process; no job talks to it, so it is checked for readiness only
        assert httpx.get(f"{cluster.urls['serving']}/readyz", timeout=10).status_code == 200
        for name, url in cluster.urls.items():
            if name == "serving":
                continue
            text = httpx.get(f"{url}/metrics", timeout=10).text
            counts = re.findall(r'^silobridge_bus_messages_total\{[^}]*outcome="ok"[^}]*\} (\S+)', text, re.M)
            assert sum(float(v) for v in counts) > 0, f"{name} of party {pid}: no bus messages in /metrics"


def _wait_until_training(flow_url: str, job_id: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        detail = job_detail(flow_url, job_id)
        states = {t["name"]: t["state"] for t in detail["tasks"]}
        if states.get("hetero_lr_0") == "RUNNING":
            return
        assert detail["state"] not in ("FAILED", "CANCELLED"), detail["message"]
        time.sleep(0.2)
    pytest.fail(f"hetero_lr_0 did not start within {timeout_s}s")


@pytest.mark.parametrize(
    ("restarts", "epochs"),
    [
        pytest.param(1, 30, id="once"),
        pytest.param(3, 90, id="3x", marks=[pytest.mark.long, pytest.mark.timeout(900)]),
    ],
)
def test_job_survives_broker_restarts_mid_training(
    deployment: Deployment, split: demo_data.VerticalSplit, restarts: int, epochs: int
) -> None:
    broker, flows = deployment.broker, deployment.flows()
    _upload(flows, split)
    job_id = submit(flows["guest"], vertical_job(epochs=epochs))
    _wait_until_training(flows["guest"], job_id)
    outages = []
    for _ in range(restarts):
        assert job_detail(flows["guest"], job_id)["state"] == "RUNNING", "the job ended before the restart"
        outages.append(restart_broker(broker))
        time.sleep(2)  # let training move on between restarts
    job = wait(flows["guest"], job_id, timeout_s=600)
    assert job["state"] == "SUCCEEDED", f"after {restarts} {broker} restart(s) {outages}: {job['message']}"
    # The same model as an undisturbed run of the same job: nothing lost, nothing applied twice.
    undisturbed = submit_and_wait(flows["guest"], vertical_job(epochs=epochs), timeout_s=600)
    for role in ("guest", "host"):
        np.testing.assert_allclose(
            model(flows[role], job_id, "hetero_lr_0")["weights"],
            model(flows[role], undisturbed["job_id"], "hetero_lr_0")["weights"],
            atol=1e-9,
            err_msg=f"{role}: the {broker} restarts changed the model",
        )
