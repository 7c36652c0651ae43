"""`silobridge cluster up` of one real party (the four real services) on the local RabbitMQ."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from deploy_helpers import minimal

from silobridge import pki
from silobridge_cli.demo import free_port
from silobridge_cli.deploy.launcher import launch
from silobridge_cli.deploy.local import local_plan
from silobridge_cli.deploy.spec import load_cluster

AMQP_URL = os.environ.get("SILOBRIDGE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")

pytestmark = [pytest.mark.multiprocess, pytest.mark.rabbitmq, pytest.mark.slow]


@pytest.fixture
def broker() -> str:
    u = urlsplit(AMQP_URL)
    try:
        socket.create_connection((u.hostname or "127.0.0.1", u.port or 5672), timeout=1).close()
    except OSError:
        pytest.skip(f"no RabbitMQ at {u.hostname}:{u.port or 5672}")
    return AMQP_URL


def test_party_starts_registers_its_nodes_and_stops(broker: str, tmp_path: Path) -> None:
    pki.create_ca(tmp_path / "certs")
    pki.issue_party_cert(tmp_path / "certs", 9999, ("127.0.0.1",))
    doc = minimal(
        bus={"url": broker, "prefix": "deploytest9999"},
        router={"host": "127.0.0.1", "port": free_port(), "http_port": 0},
        routes={"10000": {"host": "127.0.0.1", "port": free_port()}},
        cluster_manager={"http_port": 0},
        nodes={"replicas": 2, "workers": 1, "http_port": 0},
        flow={"port": 0},
        serving={"port": 0},
        observability={"log_json": False},
    )
    (tmp_path / "cluster.yaml").write_text(yaml.safe_dump(doc))
    plan = local_plan(load_cluster(tmp_path / "cluster.yaml"), data_dir=tmp_path / "data")
    party = launch(plan, ready_timeout_s=90)
    try:
        assert set(party.urls) == {
            "rollsite-router",
            "cluster-manager",
            "node-manager-0",
            "node-manager-1",
            "flow",
            "serving",
        }
        alive = 'silobridge_cluster_nodes{state="alive"} 2.0'
        deadline = time.monotonic() + 20
        while alive not in (
            metrics := httpx.get(party.urls["cluster-manager"] + "/metrics", trust_env=False).text
        ):
            assert time.monotonic() < deadline, metrics
            time.sleep(0.2)
        up = httpx.get(party.urls["flow"] + "/metrics", trust_env=False).text
        assert 'silobridge_service_up{party="9999",service="flow"} 1.0' in up
        # serving: its own OS process, ready, and scraped like the others
        assert len(set(party.pids.values())) == len(party.pids)
        assert httpx.get(party.urls["serving"] + "/readyz", trust_env=False).status_code == 200
        up = httpx.get(party.urls["serving"] + "/metrics", trust_env=False).text
        assert 'silobridge_service_up{party="9999",service="serving"} 1.0' in up
        # `cluster restart --service flow`: the same port, the rest of the party untouched
        before = dict(party.pids)
        party.restart(["flow"], ready_timeout_s=90)
        assert party.pids["flow"] != before["flow"]
        assert {n: p for n, p in party.pids.items() if n != "flow"} == {
            n: p for n, p in before.items() if n != "flow"
        }
        up = httpx.get(party.urls["flow"] + "/metrics", trust_env=False).text
        assert 'silobridge_service_up{party="9999",service="flow"} 1.0' in up
    finally:
        codes = party.stop()
    assert codes == dict.fromkeys(party.pids, 0)  # every service drained and exited cleanly on SIGTERM
