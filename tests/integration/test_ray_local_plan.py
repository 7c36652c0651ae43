"""The Ray processes of a rendered local plan, started by the real launcher: each node-manager's
process (its environment from the plan, its own compute code) attaches to its own Ray node and its
tasks run there (issue 16; before, they waited forever for a resource no node advertised)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from silobridge_cli.deploy.launcher import launch
from silobridge_cli.deploy.local import local_plan, ray_processes, ray_temp_dir
from silobridge_cli.deploy.spec import parse_cluster

pytestmark = [pytest.mark.ray, pytest.mark.multiprocess]

# What node-manager i's process does with its settings: build its compute backend with the
# node-manager's own code, run a task, and say where the driver and the task ran.
DRIVER = """
import json, os, types
import ray
from node_manager.service import NodeManagerService
from node_manager.settings import NodeManagerSettings
from silobridge.config import load_settings
settings = load_settings(NodeManagerSettings, dict(os.environ))
compute = NodeManagerService._make_compute(types.SimpleNamespace(settings=settings, node_id=settings.node_id))
out = compute.map(abs, [-1, -2])
ran_on = compute.map(lambda _: ray.get_runtime_context().get_node_id(), [0, 1, 2])
# The launcher waits for each node's raylet socket, not for the head to list the node as alive:
# another node may still be registering when this process starts, so wait for both (60 s at most).
import time
deadline = time.monotonic() + 60
while True:
    nodes = {r: n["NodeID"] for n in ray.nodes() if n["Alive"] for r in n["Resources"] if r.startswith("silobridge_node_")}
    if len(nodes) >= 2 or time.monotonic() > deadline:
        break
    time.sleep(0.5)
print(json.dumps({"out": out, "driver": ray.get_runtime_context().get_node_id(), "nodes": nodes, "ran_on": ran_on,
                  "mine": f"silobridge_node_{settings.node_id}"}))
"""


def test_each_node_manager_runs_its_tasks_on_its_own_ray_node(tmp_path: Path) -> None:
    doc = {
        "apiVersion": "silobridge.io/v1",
        "kind": "Cluster",
        "party": {"id": 4242},
        "bus": {"url": "amqp://guest:guest@127.0.0.1:5672/"},
        "nodes": {"compute": "ray", "replicas": 2, "workers": 1},
        "ray": {"head": True, "port": 0},
    }
    with socket.socket() as s:  # a free base port: the plan fixes the next few ports
        s.bind(("127.0.0.1", 0))
        doc["ray"]["port"] = min(s.getsockname()[1], 65500)
    spec = parse_cluster(doc)
    root = tmp_path / "party"
    plan = local_plan(spec, data_dir=root)
    ray_only = {**plan, "processes": ray_processes(spec, root), "requires": [], "files": {}}
    cluster = launch(ray_only, data_dir=root, ready_timeout_s=90)
    try:
        managers = {p["name"]: p for p in plan["processes"] if p.get("service") == "node-manager"}
        seen = {}
        for name, proc in managers.items():
            run = subprocess.run(
                [sys.executable, "-c", DRIVER],
                env={"PATH": str(Path(sys.executable).parent), "HOME": str(tmp_path), **proc["env"]},
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert run.returncode == 0, run.stderr[-3000:]
            seen[name] = json.loads(run.stdout.strip().splitlines()[-1])
        resources = {got["mine"] for got in seen.values()}
        assert len(resources) == 2
        for name, got in seen.items():
            assert got["out"] == [1, 2]
            assert set(got["nodes"]) == resources  # each node advertises one node-manager's resource
            # the driver and its tasks are on its own Ray node: the one advertising its resource
            assert got["driver"] == got["nodes"][got["mine"]], name
            assert set(got["ran_on"]) == {got["driver"]}, name
        assert seen["node-manager-0"]["driver"] != seen["node-manager-1"]["driver"]
    finally:
        cluster.stop(grace_s=10)
        temp_root = Path(ray_temp_dir(spec, "x")).parent
        left = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
        shutil.rmtree(temp_root, ignore_errors=True)
    assert str(temp_root) not in left, "Ray processes of the party outlived its stop"
