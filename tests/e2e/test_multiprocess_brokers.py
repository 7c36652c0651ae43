"""Each party's services as separate OS processes on a real broker (RabbitMQ, and Pulsar with
one tenant/namespace per party): the main job runs to the same result as in the single-process
mode, and survives the broker restarting in the middle of training."""

from __future__ import annotations

import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from brokers import AMQP_URL, PULSAR_ADMIN_URL, PULSAR_URL, restart_broker
from jobs import job_detail, model, submit, submit_and_wait, task_summary, vertical_job, wait
from parties import ROLES, InProcessParties, free_port

from silobridge import pki
from silobridge.bus.pulsar import parse_pulsar_url
from silobridge.bus.pulsar_admin import ensure_namespace
from silobridge_cli import demo_data
from silobridge_cli.cluster import launch
from silobridge_cli.demo import upload
from silobridge_cli.deploy.launcher import LocalCluster
from silobridge_cli.deploy.local import local_plan
from silobridge_cli.deploy.spec import parse_cluster

pytestmark = [pytest.mark.multiprocess, pytest.mark.slow]

BROKERS = [
    pytest.param("rabbitmq", marks=pytest.mark.rabbitmq),
    pytest.param("pulsar", marks=pytest.mark.pulsar),
]


def _bus(broker: str, run: str, pid: int) -> dict[str, str]:
    if broker == "rabbitmq":
        return {"url": AMQP_URL, "prefix": f"mp{run}p{pid}"}
    service_url, _, _ = parse_pulsar_url(PULSAR_URL)
    tenant = f"mp{run}p{pid}"  # a tenant/namespace of its own per party
    ensure_namespace(PULSAR_ADMIN_URL, tenant, "fl")
    return {"url": f"{service_url}/{tenant}/fl", "prefix": f"p{pid}"}


def _cluster_doc(pid: int, bus: dict[str, str], ports: dict[int, int], certs: Path) -> dict[str, Any]:
    return {
        "apiVersion": "silobridge.io/v1",
        "kind": "Cluster",
        "party": {"id": pid},
        "bus": bus,
        "pki": {"dir": str(certs)},
        "router": {"host": "127.0.0.1", "port": ports[pid], "http_port": 0},
        "routes": {o: {"host": "127.0.0.1", "port": ports[o]} for o in ports if o != pid},
        "cluster_manager": {"http_port": 0},
        "nodes": {"replicas": 1, "compute": "local", "workers": 2, "http_port": 0},
        "flow": {"port": free_port()},
        "serving": {"port": 0},
        "observability": {"log_json": True},
    }


@dataclass
class Deployment:
    broker: str
    clusters: dict[int, LocalCluster]

    def flows(self) -> dict[str, str]:
        return {role: _flow(self.clusters[pid]) for role, pid in ROLES.items()}


@pytest.fixture(scope="module", params=BROKERS)
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    broker = request.param
    root = Path(tmp_path_factory.mktemp(f"multiprocess-{broker}"))
    certs = root / "certs"
    pki.ensure_pki(certs, list(ROLES.values()))
    ports = {pid: free_port() for pid in ROLES.values()}
    run = uuid.uuid4().hex[:8]
    started: dict[int, LocalCluster] = {}
    try:
        for pid in ROLES.values():
            doc = _cluster_doc(pid, _bus(broker, run, pid), ports, certs)
            spec = parse_cluster(doc, base_dir=root)
            started[pid] = launch(local_plan(spec, data_dir=root / f"party-{pid}"), ready_timeout_s=90)
        yield Deployment(broker, started)
    finally:
        codes = {pid: c.stop(grace_s=20) for pid, c in started.items()}
        if broker == "rabbitmq":
            _purge_rabbitmq([f"mp{run}p{pid}" for pid in ROLES.values()])
    for pid, by_name in codes.items():
        assert all(code == 0 for code in by_name.values()), f"party {pid} did not exit cleanly: {by_name}"


def _purge_rabbitmq(prefixes: list[str]) -> None:
    """Drop the queues the party processes declared (rabbitmqctl, when this host has it)."""
    try:
        out = subprocess.run(
            ["rabbitmqctl", "list_queues", "-q", "name"], capture_output=True, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return
    names = [q.strip() for q in out.splitlines() if any(q.strip().startswith(p + ".") for p in prefixes)]
    for name in names:
        subprocess.run(["rabbitmqctl", "delete_queue", name], capture_output=True, timeout=30)


def _flow(cluster: LocalCluster) -> str:
    return next(url for name, url in cluster.urls.items() if name.startswith("flow"))


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
