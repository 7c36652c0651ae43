"""The services of a party and the ``SILOBRIDGE_*`` environment each one is started with.

Every target (local processes, compose, Helm) uses these names, so a field renamed in a service's
settings class is fixed here once (tests check the names against the real settings classes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from silobridge_cli.deploy.spec import ClusterSpec
from silobridge_cli.deploy.yamlio import dump_yaml

ENV = "SILOBRIDGE_"


@dataclass(frozen=True)
class ServiceDef:
    key: str  # section name in cluster.yaml (env.<key>, resources.<key>)
    name: str  # process / container / Kubernetes name
    module: str  # python -m <module>
    settings: str  # "<module>.settings:<Class>"


ROUTER = ServiceDef("router", "rollsite-router", "rollsite_router", "rollsite_router.settings:RouterSettings")
CLUSTER_MANAGER = ServiceDef(
    "cluster_manager", "cluster-manager", "cluster_manager", "cluster_manager.settings:ClusterManagerSettings"
)
NODE_MANAGER = ServiceDef(
    "node_manager", "node-manager", "node_manager", "node_manager.settings:NodeManagerSettings"
)
FLOW = ServiceDef("flow", "flow", "flow", "flow.settings:FlowSettings")
SERVING = ServiceDef("serving", "serving", "serving", "serving.settings:ServingSettings")
SERVICES = (ROUTER, CLUSTER_MANAGER, NODE_MANAGER, FLOW, SERVING)


def enabled(spec: ClusterSpec, service: ServiceDef) -> bool:
    """Whether cluster.yaml runs ``service`` (only serving can be turned off: ``serving.enabled``)."""
    return service is not SERVING or bool(spec.section("serving")["enabled"])


@dataclass(frozen=True)
class Layout:
    """Where a target puts things: bind address of the HTTP ports and the paths services see."""

    http_host: str
    data_dir: str  # root; each service gets <data_dir>/<name>
    cert_dir: str
    route_table: str
    listen_host: str | None = None  # router gRPC bind address; None: router.host of cluster.yaml


def node_id(spec: ClusterSpec, index: int) -> str:
    return f"{spec.name}-node-{index}"


def route_table(spec: ClusterSpec) -> dict[str, Any]:
    """The router's route table (format of ``rollsite_router.routes``): self, routes, default, allow."""
    table: dict[str, Any] = {
        "self": spec.party_id,
        "routes": {party: {"host": e.host, "port": e.port} for party, e in sorted(spec.routes.items())},
    }
    default = spec.default_route
    if default is not None:
        table["default"] = {"host": default.host, "port": default.port}
        if default.party:
            table["default"]["party"] = default.party
    allow = spec.section("router").get("allow")
    if allow is not None:
        table["allow"] = sorted(set(allow))
    return table


def route_table_yaml(spec: ClusterSpec) -> str:
    return dump_yaml(route_table(spec))


def common_env(spec: ClusterSpec, layout: Layout, *, data_dir: str, http_port: int) -> dict[str, str]:
    obs = spec.section("observability")
    return {
        ENV + "PARTY_ID": str(spec.party_id),
        ENV + "BUS_URL": spec.bus_url,
        ENV + "BUS_PREFIX": spec.bus_prefix,
        ENV + "HTTP_HOST": layout.http_host,
        ENV + "HTTP_PORT": str(http_port),
        ENV + "DATA_DIR": data_dir,
        ENV + "LOG_LEVEL": str(obs["log_level"]),
        ENV + "LOG_JSON": "true" if obs["log_json"] else "false",
    }


def ray_address(spec: ClusterSpec, head_host: str) -> str:
    ray = spec.section("ray")
    if ray["address"]:
        return str(ray["address"])
    if ray["head"]:
        return f"{head_host}:{ray['port']}"
    return ""


def http_port(
    spec: ClusterSpec, service: ServiceDef, *, node_index: int = 0, per_node_offset: bool = True
) -> int:
    """The configured HTTP port of a service (0 = let the launcher pick one)."""
    if service is ROUTER:
        return int(spec.section("router")["http_port"])
    if service is CLUSTER_MANAGER:
        return int(spec.section("cluster_manager")["http_port"])
    if service is FLOW:
        return int(spec.section("flow")["port"])
    if service is SERVING:
        return int(spec.section("serving")["port"])
    base = int(spec.section("nodes")["http_port"])
    return base + node_index if base and per_node_offset else base


def service_env(
    spec: ClusterSpec,
    service: ServiceDef,
    layout: Layout,
    *,
    http_port: int,
    node_index: int = 0,
    ray_head_host: str = "127.0.0.1",
) -> dict[str, str]:
    """Every variable one process of ``service`` is started with (extra ``env`` entries last)."""
    instance = f"node-{node_index}" if service is NODE_MANAGER else service.name
    env = common_env(spec, layout, data_dir=f"{layout.data_dir}/{instance}", http_port=http_port)
    if service is ROUTER:
        router = spec.section("router")
        env |= {
            ENV + "LISTEN_HOST": layout.listen_host or str(router["host"]),
            ENV + "LISTEN_PORT": str(router["port"]),
            ENV + "CERT_DIR": layout.cert_dir,
            ENV + "ROUTE_TABLE": layout.route_table,
            ENV + "CHUNK_BYTES": str(router["chunk_bytes"]),
        }
    elif service is FLOW:
        env[ENV + "ROUTE_TABLE"] = layout.route_table
        if spec.db_url:
            env[ENV + "DB_URL"] = spec.db_url
    elif service is NODE_MANAGER:
        nodes = spec.section("nodes")
        env |= {
            ENV + "NODE_ID": node_id(spec, node_index),
            ENV + "COMPUTE_BACKEND": str(nodes["compute"]),
            ENV + "COMPUTE_WORKERS": str(nodes["workers"]),
        }
        address = ray_address(spec, ray_head_host)
        if address:
            env[ENV + "RAY_ADDRESS"] = address
    return env | spec.env_extra(service.key)
