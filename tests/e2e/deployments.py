"""Each party's services as separate OS processes on a real broker, for the e2e modules that rerun a
single-process job there: PKI, ports and one ``launch(local_plan(...))`` per party, stopped and
their broker queues purged afterwards."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
from brokers import AMQP_URL, PULSAR_ADMIN_URL, PULSAR_URL
from parties import ROLES, free_port

from silobridge import pki
from silobridge.bus.pulsar import parse_pulsar_url
from silobridge.bus.pulsar_admin import ensure_namespace
from silobridge_cli.cluster import launch
from silobridge_cli.deploy.launcher import LocalCluster
from silobridge_cli.deploy.local import local_plan
from silobridge_cli.deploy.spec import parse_cluster


def bus_doc(broker: str, run: str, pid: int) -> dict[str, str]:
    if broker == "rabbitmq":
        return {"url": AMQP_URL, "prefix": f"mp{run}p{pid}"}
    service_url, _, _ = parse_pulsar_url(PULSAR_URL)
    tenant = f"mp{run}p{pid}"  # a tenant/namespace of its own per party
    ensure_namespace(PULSAR_ADMIN_URL, tenant, "fl")
    return {"url": f"{service_url}/{tenant}/fl", "prefix": f"p{pid}"}


def cluster_doc(pid: int, bus: dict[str, str], ports: dict[int, int], certs: Path) -> dict[str, Any]:
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
        return {role: flow_url(self.clusters[pid]) for role, pid in ROLES.items()}


def flow_url(cluster: LocalCluster) -> str:
    return next(url for name, url in cluster.urls.items() if name.startswith("flow"))


@contextmanager
def deployed(broker: str, root: Path) -> Iterator[Deployment]:
    """Guest, host and arbiter (``ROLES``) on ``broker``; after the block every service must have
    exited cleanly on SIGTERM."""
    certs = root / "certs"
    pki.ensure_pki(certs, list(ROLES.values()))
    ports = {pid: free_port() for pid in ROLES.values()}
    run = uuid.uuid4().hex[:8]
    started: dict[int, LocalCluster] = {}
    try:
        for pid in ROLES.values():
            spec = parse_cluster(cluster_doc(pid, bus_doc(broker, run, pid), ports, certs), base_dir=root)
            started[pid] = launch(local_plan(spec, data_dir=root / f"party-{pid}"), ready_timeout_s=90)
        yield Deployment(broker, started)
    finally:
        codes = {pid: c.stop(grace_s=20) for pid, c in started.items()}
        if broker == "rabbitmq":
            purge_rabbitmq([f"mp{run}p{pid}" for pid in ROLES.values()])
    for pid, by_name in codes.items():
        assert all(code == 0 for code in by_name.values()), f"party {pid} did not exit cleanly: {by_name}"


def purge_rabbitmq(prefixes: list[str]) -> None:
    """Drop the queues the party processes declared: listed by rabbitmqctl (when this host has
    it), deleted over one AMQP connection (a rabbitmqctl call per queue takes about a second)."""
    try:
        out = subprocess.run(
            ["rabbitmqctl", "list_queues", "-q", "name"], capture_output=True, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return
    names = [q.strip() for q in out.splitlines() if any(q.strip().startswith(p + ".") for p in prefixes)]

    async def delete() -> None:
        connection = await aio_pika.connect(AMQP_URL)
        async with connection:
            channel = await connection.channel()
            for name in names:
                await channel.queue_delete(name)

    if names:
        asyncio.run(delete())
