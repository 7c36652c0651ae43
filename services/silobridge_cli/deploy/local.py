"""The launch plan of a party on this host: one OS process per service, its command and environment.

A plan is plain JSON (``silobridge cluster render --target local``) so that it can be read,
edited and handed to :func:`silobridge_cli.deploy.launcher.launch`. ``argv[0] == "python"`` means
the interpreter that launches it. HTTP port 0 means "the launcher picks a free one".
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from silobridge.compute.ray_cluster import head_argv, node_argv, node_ready_file, ray_env
from silobridge.errors import InvalidInput
from silobridge_cli.deploy import services as svc
from silobridge_cli.deploy.spec import ClusterSpec

PLAN_VERSION = 1
LOCAL_HTTP_HOST = "127.0.0.1"
ROUTE_TABLE_FILE = "routes.yaml"


def require_shared_bus(spec: ClusterSpec, target: str) -> None:
    """Separate processes cannot share an in-process bus: say so before anything starts. Only a
    Kubernetes target can take the URL from a Secret (``bus.existing_secret``)."""
    if not spec.bus_url and target != "helm":
        raise InvalidInput(
            f"bus.url: target {target} needs the broker's URL; bus.existing_secret names a Kubernetes "
            "Secret, which only the helm target (and the operator) can read"
        )
    if spec.bus_url.startswith("memory://"):
        raise InvalidInput(
            f"bus.url: {spec.bus_url} is an in-process bus, but target {target} runs each service as its "
            "own process; use a broker (amqp://... or pulsar://...), or run the single-process party "
            "(silobridge party) for memory://"
        )


def cert_files(spec: ClusterSpec, cert_dir: Path) -> list[str]:
    return [
        str(cert_dir / name)
        for name in ("ca.crt", f"party-{spec.party_id}.crt", f"party-{spec.party_id}.key")
    ]


def local_plan(spec: ClusterSpec, *, data_dir: Path | None = None) -> dict[str, Any]:
    """Processes (router, cluster-manager, node-managers, flow, serving, optional Ray head) for ``cluster up``."""
    require_shared_bus(spec, "local")
    root = Path(data_dir or spec.data_dir).absolute()
    cert_dir = spec.pki_dir.absolute()
    layout = svc.Layout(
        http_host=LOCAL_HTTP_HOST,
        data_dir=str(root),
        cert_dir=str(cert_dir),
        route_table=str(root / ROUTE_TABLE_FILE),
    )
    processes: list[dict[str, Any]] = []
    ray_nodes = ray_processes(spec, root)
    processes += ray_nodes[:1]  # the head, before the services

    def add(service: svc.ServiceDef, name: str, node_index: int = 0) -> None:
        port = svc.http_port(spec, service, node_index=node_index)
        env = svc.service_env(spec, service, layout, http_port=port, node_index=node_index)
        if service is svc.NODE_MANAGER and ray_nodes:
            # this node-manager's process attaches to its own Ray node (started just before it)
            env |= {
                "SILOBRIDGE_RAY_TEMP_DIR": ray_temp_dir(spec, f"n{node_index}"),
                **ray_env(ray_token_file(root)),
            }
        processes.append(
            {
                "name": name,
                "service": service.name,
                "argv": ["python", "-m", service.module],
                "env": env,
                "ready": {"http": f"{LOCAL_HTTP_HOST}:{port}", "path": "/readyz"},
            }
        )

    add(svc.ROUTER, svc.ROUTER.name)
    add(svc.CLUSTER_MANAGER, svc.CLUSTER_MANAGER.name)
    for i in range(int(spec.section("nodes")["replicas"])):
        processes += ray_nodes[1 + i : 2 + i]
        add(svc.NODE_MANAGER, f"{svc.NODE_MANAGER.name}-{i}", i)
    add(svc.FLOW, svc.FLOW.name)
    if svc.enabled(spec, svc.SERVING):
        add(svc.SERVING, svc.SERVING.name)
    router = spec.section("router")
    return {
        "version": PLAN_VERSION,
        "party_id": spec.party_id,
        "name": spec.name,
        "data_dir": str(root),
        "files": {ROUTE_TABLE_FILE: svc.route_table_yaml(spec)},
        # secret files the launcher creates (fresh random content) before it starts anything
        "tokens": [ray_token_file(root)] if ray_nodes else [],
        "requires": cert_files(spec, cert_dir),
        # fixed endpoints; HTTP ones are known once the launcher has picked the free ports
        "endpoints": {"router-grpc": f"{router['host']}:{router['port']}"},
        "processes": processes,
    }


# ----- the party's Ray cluster on this host ------------------------------------------------------
# With ray.head, the head (no CPUs) and one Ray node per node-manager run as processes of the plan.
# Ports next to ray.port: dashboard (state API, loopback) +1, the head's agent +2, its Ray Client
# server +3, node i's agent +4+i; every other Ray port (workers included) is picked by the OS. All of them are bound to the party's token file.


def ray_temp_dir(spec: ClusterSpec, name: str) -> str:
    """Short on purpose: a raylet's socket path under it must fit in 107 bytes."""
    return str(Path(tempfile.gettempdir()) / f"sbray-{spec.party_id}" / name)


def ray_token_file(root: Path) -> str:
    return str(root / "ray" / "token")


def ray_processes(spec: ClusterSpec, root: Path) -> list[dict[str, Any]]:
    """The head, then node-manager i's Ray node at index 1 + i; none unless this host runs the head."""
    ray = spec.section("ray")
    if not ray["head"]:
        return []
    port = int(ray["port"])
    env = ray_env(ray_token_file(root))
    head_dir = ray_temp_dir(spec, "h")
    out = [
        {
            "name": "ray-head",
            "argv": head_argv(
                port, head_dir, dashboard_port=port + 1, agent_port=port + 2, client_port=port + 3
            ),
            "env": env,
            "ready": {"tcp": f"{LOCAL_HTTP_HOST}:{port}"},
        }
    ]
    if spec.section("nodes")["compute"] != "ray":
        return out
    cpus = int(spec.section("nodes")["workers"])
    for i in range(int(spec.section("nodes")["replicas"])):
        temp = ray_temp_dir(spec, f"n{i}")
        argv = node_argv(
            f"{LOCAL_HTTP_HOST}:{port}", svc.node_id(spec, i), temp, agent_port=port + 4 + i, cpus=cpus
        )
        out.append(
            {"name": f"ray-node-{i}", "argv": argv, "env": env, "ready": {"file": str(node_ready_file(temp))}}
        )
    return out
