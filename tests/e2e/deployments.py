"""Each party's services as separate OS processes on a real broker, for the e2e modules that rerun a
single-process job there: PKI, ports and one ``launch(local_plan(...))`` per party, stopped and
their broker queues purged afterwards."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aio_pika
from brokers import AMQP_URL
from parties import ROLES, free_port
from test_multiprocess_brokers import Deployment, _bus, _cluster_doc

from silobridge import pki
from silobridge_cli.cluster import launch
from silobridge_cli.deploy.launcher import LocalCluster
from silobridge_cli.deploy.local import local_plan
from silobridge_cli.deploy.spec import parse_cluster


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
            spec = parse_cluster(_cluster_doc(pid, _bus(broker, run, pid), ports, certs), base_dir=root)
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
