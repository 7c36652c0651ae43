"""``docker-compose.yaml`` for one party: the services (one container per node-manager), plus
RabbitMQ / PostgreSQL / a Ray head when cluster.yaml points at them by their compose names
(``rabbitmq``, ``postgres``); an external broker or database is used as given. The route table is
``routes/routes.yaml`` beside the compose file, its directory mounted read-only into the router and flow.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from silobridge.compute.placement import NODE_RESOURCE_UNITS, node_resource
from silobridge_cli.deploy import services as svc
from silobridge_cli.deploy.local import ROUTE_TABLE_FILE, require_shared_bus
from silobridge_cli.deploy.spec import ClusterSpec, cluster_schema
from silobridge_cli.deploy.yamlio import dump_yaml

COMPOSE_FILE = "docker-compose.yaml"
# The route table's directory is mounted, not the file: `silobridge peer add` replaces the file by a
# rename, and a bind-mounted file would keep showing the containers the old inode.
ROUTES_DIR = "routes"
ROUTES_DIR_IN_CONTAINER = "/etc/silobridge/routes"
ROUTES_IN_CONTAINER = f"{ROUTES_DIR_IN_CONTAINER}/{ROUTE_TABLE_FILE}"
ROUTES_FILE = f"{ROUTES_DIR}/{ROUTE_TABLE_FILE}"  # relative to the compose file
CERTS_IN_CONTAINER = "/etc/silobridge/certs"
DATA_IN_CONTAINER = "/data"
RABBITMQ_IMAGE = "rabbitmq:3.13-management"
POSTGRES_IMAGE = "postgres:16"
BUNDLED_BROKER_HOST = "rabbitmq"
BUNDLED_DB_HOST = "postgres"
LOOPBACK = "127.0.0.1"
RAY_START = ["ray", "start", "--block", "--disable-usage-stats"]
RAY_WORKER_PORT = 6380


def fixed_port(spec: ClusterSpec, service: svc.ServiceDef) -> int:
    """Containers need a known port: 0 ("pick a free one", local only) becomes the schema default."""
    port = svc.http_port(spec, service, per_node_offset=False)
    if port:
        return port
    section, field = {
        "router": ("router", "http_port"),
        "cluster_manager": ("cluster_manager", "http_port"),
        "node_manager": ("nodes", "http_port"),
        "flow": ("flow", "port"),
        "serving": ("serving", "port"),
    }[service.key]
    props = cluster_schema()["properties"][section]["properties"]
    return int(props[field]["default"])


def _healthcheck(port: int) -> dict[str, Any]:
    probe = f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}/readyz', timeout=2)"
    return {"test": ["CMD", "python", "-c", probe], "interval": "10s", "timeout": "3s", "retries": 6}


def _tcp_healthcheck(port: int) -> dict[str, Any]:
    probe = f"import socket; socket.create_connection(('127.0.0.1', {port}), 2).close()"
    return {"test": ["CMD", "python", "-c", probe], "interval": "5s", "timeout": "3s", "retries": 24}


def ray_worker(
    spec: ClusterSpec, image: str, node_id: str, address: str, node_service: str, deps: dict[str, Any]
) -> dict[str, Any]:
    """The Ray node of one node-manager: sharing its network namespace and its /tmp (Ray's
    session directory), advertising the ``silobridge_node_<node id>`` resource its tasks ask for."""
    workers = int(spec.section("nodes")["workers"])
    # what the node-manager's tasks ask for (silobridge.compute.placement, the one source)
    resources = json.dumps({node_resource(node_id): NODE_RESOURCE_UNITS})
    return {
        "image": image,
        "command": [
            *RAY_START,
            f"--address={address}",
            f"--node-manager-port={RAY_WORKER_PORT}",
            *([f"--num-cpus={workers}"] if workers else []),
            f"--resources={resources}",
        ],
        "environment": {"RAY_USAGE_STATS_ENABLED": "0"},
        # the worker holds the network namespace the node-manager joins (its driver then finds
        # this raylet on its own address); the node-manager's name resolves to it
        "networks": {"default": {"aliases": [node_service]}},
        "volumes": [f"{node_service}-tmp:/tmp"],
        "shm_size": "2gb",
        "healthcheck": _tcp_healthcheck(RAY_WORKER_PORT),
        "restart": "unless-stopped",
        **({"depends_on": deps} if deps else {}),
    }


def _relative(target: Path, out_dir: Path) -> str:
    try:
        rel = os.path.relpath(target.absolute(), out_dir.absolute())
    except ValueError:  # another drive (Windows)
        return str(target.absolute())
    return rel if rel.startswith(".") else f"./{rel}"


def compose_project(spec: ClusterSpec, out_dir: Path) -> dict[str, Any]:
    """The compose document; ``out_dir`` is where it will be written (volume paths are relative to it)."""
    require_shared_bus(spec, "compose")
    layout = svc.Layout(
        "0.0.0.0", DATA_IN_CONTAINER, CERTS_IN_CONTAINER, ROUTES_IN_CONTAINER, listen_host="0.0.0.0"
    )
    image = f"{spec.section('images')['repository']}:{spec.section('images')['tag']}"
    routes_mount = f"./{ROUTES_DIR}:{ROUTES_DIR_IN_CONTAINER}:ro"
    certs_mount = f"{_relative(spec.pki_dir, out_dir)}:{CERTS_IN_CONTAINER}:ro"
    infra: dict[str, dict[str, Any]] = {}
    depends: dict[str, Any] = {}
    volumes: dict[str, Any] = {}

    bus = urlsplit(spec.bus_url)
    if bus.scheme.startswith("amqp") and bus.hostname == BUNDLED_BROKER_HOST:
        infra["rabbitmq"] = {
            "image": RABBITMQ_IMAGE,
            "environment": {
                "RABBITMQ_DEFAULT_USER": unquote(bus.username or "guest"),
                "RABBITMQ_DEFAULT_PASS": unquote(bus.password or "guest"),
            },
            "volumes": ["rabbitmq-data:/var/lib/rabbitmq"],
            "healthcheck": {
                "test": ["CMD", "rabbitmq-diagnostics", "-q", "ping"],
                "interval": "10s",
                "retries": 10,
            },
        }
        volumes["rabbitmq-data"] = {}
        depends["rabbitmq"] = {"condition": "service_healthy"}
    flow_depends = dict(depends)
    db = urlsplit(spec.db_url) if spec.db_url else None
    if db is not None and db.scheme.startswith("postgres") and db.hostname == BUNDLED_DB_HOST:
        infra["postgres"] = {
            "image": POSTGRES_IMAGE,
            "environment": {
                "POSTGRES_USER": unquote(db.username or "postgres"),
                "POSTGRES_PASSWORD": unquote(db.password or "postgres"),
                "POSTGRES_DB": db.path.lstrip("/") or "postgres",
            },
            "volumes": ["postgres-data:/var/lib/postgresql/data"],
            "healthcheck": {
                "test": ["CMD-SHELL", "pg_isready -U $$POSTGRES_USER"],
                "interval": "10s",
                "retries": 10,
            },
        }
        volumes["postgres-data"] = {}
        flow_depends["postgres"] = {"condition": "service_healthy"}
    ray = spec.section("ray")
    node_depends = dict(depends)
    if ray["head"]:
        # control plane only: every task lands on a node-manager's Ray worker
        infra["ray-head"] = {
            "image": image,
            "command": [
                *RAY_START,
                "--head",
                f"--port={ray['port']}",
                "--num-cpus=0",
                "--include-dashboard=false",
            ],
            "environment": {"RAY_USAGE_STATS_ENABLED": "0"},
            "shm_size": "2gb",
            "healthcheck": _tcp_healthcheck(int(ray["port"])),
        }
        node_depends["ray-head"] = {"condition": "service_healthy"}

    def service(
        defn: svc.ServiceDef, name: str, *, node_index: int = 0, deps: dict[str, Any], mounts: list[str]
    ) -> dict[str, Any]:
        port = fixed_port(spec, defn)
        env = svc.service_env(
            spec, defn, layout, http_port=port, node_index=node_index, ray_head_host="ray-head"
        )
        volumes[f"{name}-data"] = {}
        out: dict[str, Any] = {
            "image": image,
            "command": ["python", "-m", defn.module],
            "environment": env,
            "volumes": [f"{name}-data:{env['SILOBRIDGE_DATA_DIR']}", *mounts],
            "healthcheck": _healthcheck(port),
            "restart": "unless-stopped",
            "stop_grace_period": "30s",
        }
        if deps:
            out["depends_on"] = deps
        return out

    router = spec.section("router")
    services: dict[str, Any] = dict(infra)
    services[svc.ROUTER.name] = service(
        svc.ROUTER, svc.ROUTER.name, deps=depends, mounts=[routes_mount, certs_mount]
    )
    services[svc.ROUTER.name]["ports"] = [f"{router['port']}:{router['port']}"]
    services[svc.CLUSTER_MANAGER.name] = service(
        svc.CLUSTER_MANAGER, svc.CLUSTER_MANAGER.name, deps=depends, mounts=[]
    )
    ray_address = svc.ray_address(spec, "ray-head")
    ray_workers = spec.section("nodes")["compute"] == "ray" and bool(ray_address)
    for i in range(int(spec.section("nodes")["replicas"])):
        name = f"{svc.NODE_MANAGER.name}-{i}"
        if not ray_workers:
            services[name] = service(svc.NODE_MANAGER, name, node_index=i, deps=node_depends, mounts=[])
            continue
        worker = f"ray-worker-{i}"
        volumes[f"{name}-tmp"] = {}
        services[worker] = ray_worker(spec, image, svc.node_id(spec, i), ray_address, name, node_depends)
        services[name] = service(
            svc.NODE_MANAGER,
            name,
            node_index=i,
            deps={**node_depends, worker: {"condition": "service_healthy"}},
            mounts=[f"{name}-tmp:/tmp"],
        )
        services[name] |= {"shm_size": "2gb", "network_mode": f"service:{worker}"}
    flow_port = fixed_port(spec, svc.FLOW)
    services[svc.FLOW.name] = service(svc.FLOW, svc.FLOW.name, deps=flow_depends, mounts=[routes_mount])
    # Published on the host's loopback only, unless cluster.yaml asks for flow.expose.
    bind = "" if spec.section("flow")["expose"] else f"{LOOPBACK}:"
    services[svc.FLOW.name]["ports"] = [f"{bind}{flow_port}:{flow_port}"]
    if svc.enabled(spec, svc.SERVING):
        # The score route takes no token: published on the host's loopback only, always.
        serving_port = fixed_port(spec, svc.SERVING)
        services[svc.SERVING.name] = service(svc.SERVING, svc.SERVING.name, deps=depends, mounts=[])
        services[svc.SERVING.name]["ports"] = [f"{LOOPBACK}:{serving_port}:{serving_port}"]
    return {"name": spec.name, "services": services, "volumes": volumes}


def compose_files(spec: ClusterSpec, out_dir: Path) -> dict[str, str]:
    """File name -> content to write into ``out_dir``."""
    doc = compose_project(spec, out_dir)
    header = f"# Rendered by `silobridge cluster render --target compose` for party {spec.party_id}; do not edit.\n"
    return {
        COMPOSE_FILE: header + dump_yaml(doc),
        ROUTES_FILE: svc.route_table_yaml(spec),
    }
