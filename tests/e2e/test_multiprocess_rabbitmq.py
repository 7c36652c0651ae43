"""Each party's four services as separate OS processes on RabbitMQ (a bus prefix per party):
the main job runs to the same result as in the single-process mode."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from jobs import submit_and_wait, task_summary, vertical_job
from parties import ROLES, InProcessParties, free_port

from silobridge import pki
from silobridge.federation import codec
from silobridge_cli import demo_data
from silobridge_cli.cluster import launch
from silobridge_cli.demo import upload
from silobridge_cli.deploy.launcher import LocalCluster
from silobridge_cli.deploy.local import local_plan
from silobridge_cli.deploy.spec import parse_cluster

pytestmark = [pytest.mark.rabbitmq, pytest.mark.multiprocess, pytest.mark.slow]


def _cluster_doc(pid: int, amqp_url: str, prefix: str, ports: dict[int, int], certs: Path) -> dict[str, Any]:
    return {
        "apiVersion": "silobridge.io/v1",
        "kind": "Cluster",
        "party": {"id": pid},
        "bus": {"url": amqp_url, "prefix": prefix},
        "pki": {"dir": str(certs)},
        "router": {"host": "127.0.0.1", "port": ports[pid], "http_port": 0},
        "routes": {o: {"host": "127.0.0.1", "port": ports[o]} for o in ports if o != pid},
        "cluster_manager": {"http_port": 0},
        "nodes": {"replicas": 1, "compute": "local", "workers": 2, "http_port": 0},
        "flow": {"port": free_port()},
        "observability": {"log_json": True},
    }


@pytest.fixture(scope="module")
def clusters(tmp_path_factory: pytest.TempPathFactory, amqp_url: str) -> Iterator[dict[int, LocalCluster]]:
    root = Path(tmp_path_factory.mktemp("multiprocess"))
    certs = root / "certs"
    pki.ensure_pki(certs, list(ROLES.values()))
    ports = {pid: free_port() for pid in ROLES.values()}
    run = uuid.uuid4().hex[:8]
    started: dict[int, LocalCluster] = {}
    try:
        for pid in ROLES.values():
            spec = parse_cluster(_cluster_doc(pid, amqp_url, f"mp{run}p{pid}", ports, certs), base_dir=root)
            started[pid] = launch(local_plan(spec, data_dir=root / f"party-{pid}"), ready_timeout_s=90)
        yield started
    finally:
        codes = {pid: c.stop(grace_s=20) for pid, c in started.items()}
        _purge_rabbitmq([f"mp{run}p{pid}" for pid in ROLES.values()])
    for pid, by_name in codes.items():
        assert all(code == 0 for code in by_name.values()), f"party {pid} did not exit cleanly: {by_name}"


def _purge_rabbitmq(prefixes: list[str]) -> None:
    """Drop the queues the party processes declared (rabbitmqctl, when this host has it)."""
    import subprocess

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


def _models(flow_url: str, job_id: str) -> dict[str, Any]:
    raw = httpx.get(f"{flow_url}/v1/jobs/{job_id}/models/hetero_lr_0", timeout=30)
    raw.raise_for_status()
    return dict(codec.from_bytes(raw.content))


def _run_job(flows: dict[str, str], split: demo_data.VerticalSplit, tag: str) -> dict[str, Any]:
    upload(flows["guest"], split.guest_csv, namespace="demo", name="guest", label_column="y")
    upload(flows["host"], split.host_csv, namespace="demo", name="host")
    job = submit_and_wait(flows["guest"], vertical_job(), timeout_s=300)
    assert job["state"] == "SUCCEEDED", f"{tag}: {job['message']}"
    return job


def test_same_job_same_result_as_single_process(
    clusters: dict[int, LocalCluster], parties: InProcessParties
) -> None:
    x, y = demo_data.load("breast_cancer")
    split = demo_data.split(x, y, 10)
    flows_mp = {role: _flow(clusters[pid]) for role, pid in ROLES.items()}
    flows_sp = {role: parties.flow(role) for role in ROLES}
    job_mp = _run_job(flows_mp, split, "multi-process")
    job_sp = _run_job(flows_sp, split, "single-process")

    for role in ROLES:
        detail = httpx.get(f"{flows_mp[role]}/v1/jobs/{job_mp['job_id']}", timeout=30).json()
        assert detail["state"] == "SUCCEEDED", (role, detail["message"])
    auc_mp = task_summary(job_mp, "evaluation_0")["auc"]
    auc_sp = task_summary(job_sp, "evaluation_0")["auc"]
    assert auc_mp > 0.97
    assert auc_mp == pytest.approx(auc_sp, abs=1e-9)
    assert task_summary(job_mp, "psi_0")["intersected_rows"] == len(split.common_ids)
    for role in ("guest", "host"):
        w_mp = _models(flows_mp[role], job_mp["job_id"])["weights"]
        w_sp = _models(flows_sp[role], job_sp["job_id"])["weights"]
        np.testing.assert_allclose(w_mp, w_sp, atol=1e-6, err_msg=f"{role} weights differ between modes")


def test_every_service_process_counts_messages(clusters: dict[int, LocalCluster]) -> None:
    for pid, cluster in clusters.items():
        names = sorted(cluster.urls)
        assert [n for n in names if not n.startswith("node-manager")] == [
            "cluster-manager",
            "flow",
            "rollsite-router",
        ]
        assert any(n.startswith("node-manager") for n in names)
        for name, url in cluster.urls.items():
            text = httpx.get(f"{url}/metrics", timeout=10).text
            counts = re.findall(r'^silobridge_bus_messages_total\{[^}]*outcome="ok"[^}]*\} (\S+)', text, re.M)
            assert sum(float(v) for v in counts) > 0, f"{name} of party {pid}: no bus messages in /metrics"
