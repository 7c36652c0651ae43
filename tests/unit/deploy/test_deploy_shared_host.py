"""Running beside other parties: `--port-offset`, and routes.yaml peers added live that a
re-render would drop (`cluster up`, `cluster render --target compose`, `--drop-peers`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy_helpers import DEPLOY, minimal

from silobridge_cli.main import main

PEER_ADDED_LIVE = "self: 9999\nroutes:\n  10000: {host: 10.0.0.2, port: 9370}\n  10002: {host: bank-d.example, port: 9370}\n"


def cluster_yaml(tmp_path: Path, **sections: Any) -> Path:
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump(minimal(**sections)))
    return path


def shared_host_party(tmp_path: Path) -> Path:
    return cluster_yaml(
        tmp_path,
        router={"port": 9370, "http_port": 9371},
        cluster_manager={"http_port": 9372},
        nodes={"replicas": 2, "http_port": 9373, "compute": "ray"},
        ray={"head": True, "port": 6379},
        flow={"port": 9380},
        routes={10000: {"host": "10.0.0.2", "port": 9370}, "default": {"host": "hub.example", "port": 9370}},
    )


def render_plan(tmp_path: Path, src: Path, *extra: str) -> dict[str, Any]:
    out = tmp_path / "out"
    args = ["cluster", "render", "-f", str(src), "--target", "local", "-o", str(out), *extra]
    assert main([*args, "--data-dir", str(tmp_path / "d")]) == 0
    plan: dict[str, Any] = json.loads((out / "plan.json").read_text())
    return plan


def test_port_offset_shifts_every_port_the_party_listens_on(tmp_path: Path) -> None:
    plan = render_plan(tmp_path, shared_host_party(tmp_path), "--port-offset", "1000")
    env = {p["name"]: p["env"] for p in plan["processes"]}
    ready = {p["name"]: p["ready"] for p in plan["processes"]}
    assert env["rollsite-router"]["SILOBRIDGE_LISTEN_PORT"] == "10370"
    assert {name: e["SILOBRIDGE_HTTP_PORT"] for name, e in env.items() if not name.startswith("ray-")} == {
        "rollsite-router": "10371",
        "cluster-manager": "10372",
        "node-manager-0": "10373",
        "node-manager-1": "10374",
        "flow": "10380",
        "serving": "10390",
    }
    assert ready["flow"] == {"http": "127.0.0.1:10380", "path": "/readyz"}
    assert ready["ray-head"] == {"tcp": "127.0.0.1:7379"}
    assert "--port=7379" in plan["processes"][0]["argv"]
    # the Ray ports this plan fixes follow ray.port: dashboard +1, agents +2 (head) and +4+i (nodes),
    # the head's Ray Client server +3
    argv = {p["name"]: p["argv"] for p in plan["processes"]}
    assert {
        "--dashboard-port=7380",
        "--dashboard-agent-listen-port=7381",
        "--ray-client-server-port=7382",
    } <= set(argv["ray-head"])
    assert "--dashboard-agent-listen-port=7384" in argv["ray-node-1"]
    assert env["node-manager-0"]["SILOBRIDGE_RAY_ADDRESS"] == "127.0.0.1:7379"
    assert plan["endpoints"]["router-grpc"] == "0.0.0.0:10370"
    # the peers' ports are theirs: untouched
    table = yaml.safe_load(plan["files"]["routes.yaml"])
    assert table["routes"] == {10000: {"host": "10.0.0.2", "port": 9370}}
    assert table["default"] == {"host": "hub.example", "port": 9370}


def test_port_offset_keeps_free_ports_free_and_reaches_compose(tmp_path: Path) -> None:
    src = DEPLOY / "examples" / "local-3-party" / "cluster-9999.yaml"  # HTTP ports 0 but flow's
    env = {p["name"]: p["env"] for p in render_plan(tmp_path, src, "--port-offset", "5")["processes"]}
    assert env["cluster-manager"]["SILOBRIDGE_HTTP_PORT"] == "0"
    assert env["flow"]["SILOBRIDGE_HTTP_PORT"] == "19385"
    assert env["rollsite-router"]["SILOBRIDGE_LISTEN_PORT"] == "19375"

    out = tmp_path / "compose"
    args = ["cluster", "render", "-f", str(shared_host_party(tmp_path)), "--target", "compose"]
    assert main([*args, "-o", str(out), "--port-offset", "1000"]) == 0
    services = yaml.safe_load((out / "docker-compose.yaml").read_text())["services"]
    assert services["rollsite-router"]["ports"] == ["10370:10370"]
    assert services["flow"]["ports"] == ["127.0.0.1:10380:10380"]


@pytest.mark.parametrize(
    ("sections", "offset", "named"),
    [
        ({"flow": {"port": 65500}}, "100", "flow.port 65500 would be 65600"),
        (
            {"nodes": {"replicas": 3, "http_port": 65400}},
            "134",
            "nodes.http_port 65400 (node-manager-2 at 65402) would be 65536",
        ),
        ({}, "-9371", "router.http_port 9371 would be 0"),
    ],
)
def test_port_offset_outside_the_port_range_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sections: dict[str, Any], offset: str, named: str
) -> None:
    src = cluster_yaml(tmp_path, **sections)
    args = ["cluster", "render", "-f", str(src), "--target", "local", "-o", str(tmp_path / "out")]
    assert main([*args, f"--port-offset={offset}"]) == 1
    err = capsys.readouterr().err
    assert f"--port-offset {offset} moves ports outside 1..65535" in err
    assert named in err
    assert not (tmp_path / "out").exists()


def test_up_refuses_to_drop_peers_added_live(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = cluster_yaml(tmp_path, routes={10000: {"host": "10.0.0.2", "port": 9370}})
    data = tmp_path / "d"
    data.mkdir()
    (data / "routes.yaml").write_text(PEER_ADDED_LIVE)
    up = ["cluster", "up", "-f", str(src), "--data-dir", str(data)]
    assert main(up) == 1
    err = capsys.readouterr().err
    assert "party 10002 (bank-d.example:9370)" in err
    assert "10000" not in err.split("routes peers")[1]  # cluster.yaml has that one
    assert "add each to cluster.yaml's routes, or pass --drop-peers" in err
    assert (data / "routes.yaml").read_text() == PEER_ADDED_LIVE  # nothing started, nothing written
    # with --drop-peers it goes on (and stops at the next check: this test made no certificates)
    assert main([*up, "--drop-peers"]) == 1
    assert "missing files:" in capsys.readouterr().err


def test_up_goes_on_when_cluster_yaml_has_every_peer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = cluster_yaml(
        tmp_path,
        routes={10000: {"host": "10.0.0.2", "port": 9370}, 10002: {"host": "bank-d.example", "port": 9370}},
    )
    data = tmp_path / "d"
    data.mkdir()
    (data / "routes.yaml").write_text(PEER_ADDED_LIVE)
    assert main(["cluster", "up", "-f", str(src), "--data-dir", str(data)]) == 1
    assert "missing files:" in capsys.readouterr().err  # past the peer check


def test_compose_render_refuses_to_drop_peers_added_live(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = cluster_yaml(tmp_path, routes={10000: {"host": "10.0.0.2", "port": 9370}})
    out = tmp_path / "out"
    render = ["cluster", "render", "-f", str(src), "--target", "compose", "-o", str(out)]
    assert main(render) == 0
    table = out / "routes" / "routes.yaml"
    table.write_text(PEER_ADDED_LIVE)  # silobridge peer add, at the mounted file
    assert main(render) == 1
    assert "party 10002 (bank-d.example:9370)" in capsys.readouterr().err
    assert table.read_text() == PEER_ADDED_LIVE
    assert main([*render, "--drop-peers"]) == 0
    assert 10002 not in yaml.safe_load(table.read_text())["routes"]


def test_a_broken_route_table_is_not_replaced_silently(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = cluster_yaml(tmp_path)
    data = tmp_path / "d"
    data.mkdir()
    (data / "routes.yaml").write_text("self: 9999\nroutes: [oops\n")
    assert main(["cluster", "up", "-f", str(src), "--data-dir", str(data)]) == 1
    err = capsys.readouterr().err
    assert "not valid YAML" in err
    assert "pass --drop-peers to replace it" in err
