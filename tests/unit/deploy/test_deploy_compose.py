"""docker-compose.yaml per party: the four services with the right environment."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from deploy_helpers import DEPLOY, minimal
from ray_topology import node_advertises_what_it_requests, ray_flags

from silobridge_cli.cluster import render
from silobridge_cli.deploy.spec import ClusterSpec, load_cluster, parse_cluster


def rendered(spec: ClusterSpec, out: Path) -> dict:
    render(spec, "compose", out)
    return yaml.safe_load((out / "docker-compose.yaml").read_text())


def test_four_services_and_bundled_broker_and_db(tmp_path: Path) -> None:
    spec = load_cluster(DEPLOY / "examples" / "cluster-9999.yaml")
    doc = rendered(spec, tmp_path)
    services = doc["services"]
    assert set(services) == {
        "rabbitmq",
        "postgres",
        "ray-head",
        "rollsite-router",
        "cluster-manager",
        "node-manager-0",
        "node-manager-1",
        "ray-worker-0",
        "ray-worker-1",
        "flow",
        "serving",
    }
    commands = {
        name: s["command"]
        for name, s in services.items()
        if name.startswith(("roll", "clus", "node", "flow", "serving"))
    }
    assert commands["rollsite-router"] == ["python", "-m", "rollsite_router"]
    assert commands["cluster-manager"] == ["python", "-m", "cluster_manager"]
    assert commands["node-manager-1"] == ["python", "-m", "node_manager"]
    assert commands["flow"] == ["python", "-m", "flow"]
    assert commands["serving"] == ["python", "-m", "serving"]
    # the score route takes no token: published on the host's loopback only
    assert services["serving"]["ports"] == ["127.0.0.1:9390:9390"]
    assert services["serving"]["environment"]["SILOBRIDGE_DATA_DIR"] == "/data/serving"
    for name in commands:
        env = services[name]["environment"]
        assert env["SILOBRIDGE_PARTY_ID"] == "9999"
        assert env["SILOBRIDGE_BUS_URL"] == "amqp://guest:guest@rabbitmq:5672/"
        assert env["SILOBRIDGE_BUS_PREFIX"] == "p9999"
        assert env["SILOBRIDGE_HTTP_HOST"] == "0.0.0.0"
        assert services[name]["depends_on"]["rabbitmq"] == {"condition": "service_healthy"}
    # the broker gets the credentials of bus.url, postgres those of database.url
    assert services["rabbitmq"]["environment"]["RABBITMQ_DEFAULT_USER"] == "guest"
    assert services["postgres"]["environment"] == {
        "POSTGRES_USER": "silobridge",
        "POSTGRES_PASSWORD": "silobridge",
        "POSTGRES_DB": "flow",
    }
    assert (
        services["flow"]["environment"]["SILOBRIDGE_DB_URL"]
        == "postgresql://silobridge:silobridge@postgres:5432/flow"
    )
    assert "postgres" in services["flow"]["depends_on"]


def test_service_specific_environment(tmp_path: Path) -> None:
    spec = load_cluster(DEPLOY / "examples" / "cluster-9999.yaml")
    services = rendered(spec, tmp_path)["services"]
    router = services["rollsite-router"]["environment"]
    assert router["SILOBRIDGE_LISTEN_HOST"] == "0.0.0.0"
    assert router["SILOBRIDGE_LISTEN_PORT"] == "9370"
    assert router["SILOBRIDGE_CHUNK_BYTES"] == "1048576"
    assert router["SILOBRIDGE_CERT_DIR"] == "/etc/silobridge/certs"
    assert services["rollsite-router"]["ports"] == ["9370:9370"]
    # the route table's directory is mounted, so that a file replaced by `peer add` (a rename) is seen
    assert router["SILOBRIDGE_ROUTE_TABLE"] == "/etc/silobridge/routes/routes.yaml"
    for name in ("rollsite-router", "flow"):
        assert services[name]["environment"]["SILOBRIDGE_ROUTE_TABLE"] == router["SILOBRIDGE_ROUTE_TABLE"]
        assert "./routes:/etc/silobridge/routes:ro" in services[name]["volumes"]
        assert not any("routes.yaml" in m for m in services[name]["volumes"])
    nodes = [services[f"node-manager-{i}"]["environment"] for i in (0, 1)]
    assert [n["SILOBRIDGE_NODE_ID"] for n in nodes] == ["bank-a-node-0", "bank-a-node-1"]
    assert {n["SILOBRIDGE_COMPUTE_BACKEND"] for n in nodes} == {"ray"}
    assert {n["SILOBRIDGE_COMPUTE_WORKERS"] for n in nodes} == {"4"}
    assert {n["SILOBRIDGE_RAY_ADDRESS"] for n in nodes} == {"ray-head:6379"}
    assert services["flow"]["ports"] == ["127.0.0.1:9380:9380"]  # flow: this host's loopback only
    # the route table written into the mounted directory beside the compose file
    table = yaml.safe_load((tmp_path / "routes" / "routes.yaml").read_text())
    assert table == {
        "self": 9999,
        "routes": {
            10000: {"host": "fl.insurer-b.example", "port": 9370},
            10001: {"host": "fl.arbiter.example", "port": 9370},
        },
    }


def test_certificates_are_mounted_from_the_pki_dir(tmp_path: Path) -> None:
    spec = parse_cluster(minimal(pki={"dir": "tls"}), base_dir=tmp_path / "conf")
    services = rendered(spec, tmp_path / "out")["services"]
    assert "../conf/tls:/etc/silobridge/certs:ro" in services["rollsite-router"]["volumes"]


def test_external_broker_and_sqlite_bundle_nothing(tmp_path: Path) -> None:
    spec = parse_cluster(
        minimal(
            bus={"url": "amqps://u:p@mq.bank.internal:5671/"},
            env={"flow": {"SILOBRIDGE_MAX_TASK_RETRIES": 2}},
        )
    )
    services = rendered(spec, tmp_path)["services"]
    assert set(services) == {"rollsite-router", "cluster-manager", "node-manager-0", "flow", "serving"}
    disabled = rendered(parse_cluster(minimal(serving={"enabled": False})), tmp_path / "off")["services"]
    assert "serving" not in disabled
    assert "SILOBRIDGE_DB_URL" not in services["flow"]["environment"]  # flow's own SQLite default
    assert services["flow"]["environment"]["SILOBRIDGE_MAX_TASK_RETRIES"] == "2"
    assert "SILOBRIDGE_MAX_TASK_RETRIES" not in services["cluster-manager"]["environment"]
    assert "depends_on" not in services["flow"]


def test_port_zero_becomes_a_fixed_port_in_containers(tmp_path: Path) -> None:
    spec = load_cluster(DEPLOY / "examples" / "local-3-party" / "cluster-9999.yaml")
    services = rendered(spec, tmp_path)["services"]
    assert services["cluster-manager"]["environment"]["SILOBRIDGE_HTTP_PORT"] == "9372"
    assert services["node-manager-1"]["environment"]["SILOBRIDGE_HTTP_PORT"] == "9373"
    assert services["rollsite-router"]["environment"]["SILOBRIDGE_LISTEN_HOST"] == "0.0.0.0"


def test_flow_is_published_beyond_loopback_only_when_cluster_yaml_asks(tmp_path: Path) -> None:
    default = rendered(parse_cluster(minimal()), tmp_path / "default")["services"]
    exposed = rendered(parse_cluster(minimal(flow={"expose": True})), tmp_path / "exposed")["services"]
    assert default["flow"]["ports"] == ["127.0.0.1:9380:9380"]
    assert exposed["flow"]["ports"] == ["9380:9380"]
    assert default["rollsite-router"]["ports"] == exposed["rollsite-router"]["ports"] == ["9370:9370"]


def test_ray_workers_advertise_what_node_managers_ask_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = load_cluster(DEPLOY / "examples" / "cluster-9999.yaml")  # compute: ray, ray.head: true
    services = rendered(spec, tmp_path)["services"]
    head = ray_flags(services["ray-head"]["command"])
    assert head["--num-cpus"] == "0"  # tasks only on the node-managers' workers
    for i in (0, 1):
        manager, worker = services[f"node-manager-{i}"], services[f"ray-worker-{i}"]
        settings, flags = node_advertises_what_it_requests(
            manager["environment"], worker["command"], monkeypatch
        )
        assert flags["--address"] == settings.ray_address == f"ray-head:{head['--port']}"
        # one network namespace and one /tmp (Ray's sockets), the worker ready first
        assert manager["network_mode"] == f"service:ray-worker-{i}"
        assert worker["networks"]["default"]["aliases"] == [f"node-manager-{i}"]
        assert manager["depends_on"][f"ray-worker-{i}"] == {"condition": "service_healthy"}
        tmp = {v for v in manager["volumes"] if v.endswith(":/tmp")}
        assert tmp and tmp <= set(worker["volumes"])


def test_no_ray_worker_without_ray(tmp_path: Path) -> None:
    services = rendered(parse_cluster(minimal(nodes={"replicas": 2})), tmp_path)["services"]
    assert not [n for n in services if n.startswith("ray-")]
    assert "network_mode" not in services["node-manager-0"]
