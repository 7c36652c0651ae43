"""The local launch plan, and that its variables are the real settings fields of each service."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
import yaml
from deploy_helpers import DEPLOY, minimal
from ray_topology import node_advertises_what_it_requests, ray_flags

from silobridge.config import CommonSettings, load_settings
from silobridge.errors import InvalidInput
from silobridge_cli.cluster import render
from silobridge_cli.deploy import services as svc
from silobridge_cli.deploy.local import local_plan
from silobridge_cli.deploy.spec import ClusterSpec, load_cluster, parse_cluster


def test_plan_lists_every_process(tmp_path: Path) -> None:
    spec = load_cluster(DEPLOY / "examples" / "local-3-party" / "cluster-9999.yaml")
    plan = local_plan(spec, data_dir=tmp_path)
    names = [p["name"] for p in plan["processes"]]
    assert names == [
        "rollsite-router",
        "cluster-manager",
        "node-manager-0",
        "node-manager-1",
        "flow",
        "serving",
    ]
    assert plan["processes"][0]["argv"] == ["python", "-m", "rollsite_router"]
    env = {p["name"]: p["env"] for p in plan["processes"]}
    assert env["rollsite-router"]["SILOBRIDGE_LISTEN_HOST"] == "127.0.0.1"
    assert env["rollsite-router"]["SILOBRIDGE_LISTEN_PORT"] == "19370"
    assert env["flow"]["SILOBRIDGE_HTTP_PORT"] == "19380"
    assert env["serving"]["SILOBRIDGE_HTTP_PORT"] == "19390"
    assert env["serving"]["SILOBRIDGE_HTTP_HOST"] == "127.0.0.1"  # the score route takes no token
    assert env["serving"]["SILOBRIDGE_DATA_DIR"] == str(tmp_path / "serving")
    serving = next(p for p in plan["processes"] if p["name"] == "serving")
    assert serving["argv"] == ["python", "-m", "serving"]
    assert serving["ready"] == {"http": "127.0.0.1:19390", "path": "/readyz"}
    assert env["cluster-manager"]["SILOBRIDGE_HTTP_PORT"] == "0"  # the launcher picks one
    assert env["node-manager-1"]["SILOBRIDGE_DATA_DIR"] == str(tmp_path / "node-1")
    assert env["rollsite-router"]["SILOBRIDGE_ROUTE_TABLE"] == str(tmp_path / "routes.yaml")
    assert env["rollsite-router"]["SILOBRIDGE_LOG_JSON"] == "false"
    cert_dir = Path(env["rollsite-router"]["SILOBRIDGE_CERT_DIR"])
    assert plan["requires"] == [str(cert_dir / n) for n in ("ca.crt", "party-9999.crt", "party-9999.key")]
    routes = yaml.safe_load(plan["files"]["routes.yaml"])
    assert routes["routes"] == {
        10000: {"host": "127.0.0.1", "port": 19470},
        10001: {"host": "127.0.0.1", "port": 19570},
    }


def test_serving_can_be_left_out(tmp_path: Path) -> None:
    spec = load_cluster(DEPLOY / "examples" / "local-3-party" / "cluster-10001.yaml")  # the arbiter
    assert "serving" not in [p["name"] for p in local_plan(spec, data_dir=tmp_path)["processes"]]


def test_fixed_node_ports_are_consecutive(tmp_path: Path) -> None:
    spec = parse_cluster(minimal(nodes={"replicas": 3, "http_port": 9500}))
    plan = local_plan(spec, data_dir=tmp_path)
    ports = [
        p["env"]["SILOBRIDGE_HTTP_PORT"] for p in plan["processes"] if p["name"].startswith("node-manager")
    ]
    assert ports == ["9500", "9501", "9502"]


def test_ray_head_is_started_first_and_nodes_join_it(tmp_path: Path) -> None:
    spec = parse_cluster(minimal(nodes={"compute": "ray"}, ray={"head": True, "port": 6390}))
    plan = local_plan(spec, data_dir=tmp_path)
    head = plan["processes"][0]
    assert head["name"] == "ray-head"
    assert head["argv"][:2] == ["ray", "start"] and "--head" in head["argv"]
    assert head["ready"] == {"tcp": "127.0.0.1:6390"}
    node = next(p for p in plan["processes"] if p["name"] == "node-manager-0")
    assert node["env"]["SILOBRIDGE_RAY_ADDRESS"] == "127.0.0.1:6390"


def test_local_ray_nodes_advertise_what_node_managers_ask_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 16: each node-manager of a local party gets its own Ray node, started just before it,
    advertising the resource its tasks request; its process attaches to that node."""
    spec = parse_cluster(
        minimal(nodes={"compute": "ray", "replicas": 2, "workers": 1}, ray={"head": True, "port": 6390})
    )
    plan = local_plan(spec, data_dir=tmp_path)
    names = [p["name"] for p in plan["processes"]]
    assert names[:5] == ["ray-head", "rollsite-router", "cluster-manager", "ray-node-0", "node-manager-0"]
    assert names[5:7] == ["ray-node-1", "node-manager-1"]
    procs = {p["name"]: p for p in plan["processes"]}
    head = ray_flags(procs["ray-head"]["argv"])
    assert head["--num-cpus"] == "0"  # tasks only on the node-managers' nodes
    token = plan["tokens"][0]
    agent_ports = {head["--dashboard-agent-listen-port"]}
    for i in (0, 1):
        manager, node = procs[f"node-manager-{i}"], procs[f"ray-node-{i}"]
        settings, flags = node_advertises_what_it_requests(manager["env"], node["argv"], monkeypatch)
        assert flags["--address"] == settings.ray_address == f"127.0.0.1:{head['--port']}"
        assert flags["--num-cpus"] == "1"
        # the node-manager attaches to its own node: several raylets share this host
        assert flags["--temp-dir"] == settings.ray_temp_dir
        assert node["ready"] == {"file": f"{settings.ray_temp_dir}/session_latest/sockets/raylet"}
        agent_ports.add(flags["--dashboard-agent-listen-port"])
        # one token for the party's Ray processes and its drivers
        assert node["env"]["RAY_AUTH_TOKEN_PATH"] == manager["env"]["RAY_AUTH_TOKEN_PATH"] == token
        assert manager["env"]["RAY_AUTH_MODE"] == "token"
    assert len(agent_ports) == 3  # one per Ray process on the host


def test_render_local_writes_a_json_plan(tmp_path: Path) -> None:
    spec = parse_cluster(minimal())
    (path,) = render(spec, "local", tmp_path / "out", data_dir=tmp_path / "data")
    assert json.loads(path.read_text())["data_dir"] == str(tmp_path / "data")


def test_in_process_bus_cannot_be_split_into_processes(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="memory://x is an in-process bus"):
        local_plan(parse_cluster(minimal(bus={"url": "memory://x"})), data_dir=tmp_path)


def settings_class(service: svc.ServiceDef) -> type[CommonSettings]:
    module_name, _, cls = service.settings.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError:
        pytest.fail(f"{module_name} does not exist: the renderer starts {service.module} with its settings")
    found = getattr(module, cls)
    assert issubclass(found, CommonSettings)
    return found


@pytest.mark.parametrize("service", svc.SERVICES, ids=lambda s: s.name)
def test_rendered_variables_are_fields_of_the_service_settings(
    service: svc.ServiceDef, example: ClusterSpec, tmp_path: Path
) -> None:
    """A renamed settings field would otherwise be silently ignored by the service."""
    model = settings_class(service)
    plan = local_plan(example, data_dir=tmp_path)
    for proc in plan["processes"]:
        if proc.get("service") != service.name:
            continue
        unknown = sorted(  # RAY_* is Ray's own (its auth token, health checks), read by ray itself
            k
            for k in proc["env"]
            if not k.startswith("RAY_") and k.removeprefix("SILOBRIDGE_").lower() not in model.model_fields
        )
        assert unknown == [], f"{service.name}: no such settings field"
        env = {**proc["env"], "SILOBRIDGE_HTTP_PORT": proc["env"]["SILOBRIDGE_HTTP_PORT"]}
        settings = load_settings(model, env)  # every value parses
        assert settings.party_id == example.party_id
        assert settings.prefix == example.bus_prefix


def test_route_table_is_read_by_the_router_and_flow(example: ClusterSpec, tmp_path: Path) -> None:
    """The file all targets write parses with the router's own loader, with the same endpoints."""
    from flow.settings import read_route_table_parties
    from rollsite_router.routes import parse_route_table

    text = svc.route_table_yaml(example)
    table = parse_route_table(text, expected_self=example.party_id)
    assert {p: (e.host, e.port) for p, e in table.routes.items()} == {
        p: (e.host, e.port) for p, e in example.routes.items()
    }
    default = example.default_route
    assert (table.default is None) == (default is None)
    allow = example.section("router").get("allow")
    assert table.allow == frozenset(allow if allow is not None else example.routes)
    (tmp_path / "routes.yaml").write_text(text)
    assert read_route_table_parties(tmp_path / "routes.yaml") == {example.party_id, *example.routes}
