"""``values.yaml`` for the chart in ``deploy/helm/silobridge`` (one release per party).

The chart's ``values.schema.json`` is the contract: a test validates every example's rendering
against it, and checks that every ``.Values`` path the templates use exists.
"""

from __future__ import annotations

from typing import Any

from silobridge_cli.deploy import services as svc
from silobridge_cli.deploy.compose import fixed_port
from silobridge_cli.deploy.local import require_shared_bus
from silobridge_cli.deploy.spec import ClusterSpec
from silobridge_cli.deploy.yamlio import dump_yaml

VALUES_FILE = "values.yaml"
# Helm reads numbers in values files as float64: larger integers are written as strings.
MAX_EXACT_FLOAT_INT = 2**53 - 1
_CAMEL = {
    "router": "router",
    "cluster_manager": "clusterManager",
    "node_manager": "nodeManager",
    "flow": "flow",
    "serving": "serving",
}


def helm_values(spec: ClusterSpec) -> dict[str, Any]:
    require_shared_bus(spec, "helm")
    router, nodes, ray = spec.section("router"), spec.section("nodes"), spec.section("ray")
    obs, images = spec.section("observability"), spec.section("images")
    return {
        "party": {"id": exact_number(spec.party_id), "name": spec.name},
        "image": {
            "repository": images["repository"],
            "tag": images["tag"],
            "pullPolicy": images["pull_policy"],
        },
        "bus": {"url": spec.bus_url, "prefix": spec.bus_prefix, **_secret_values(spec.bus_secret)},
        "database": {"url": spec.db_url, **_secret_values(spec.db_secret)},
        "pki": {"secret": spec.pki_secret},
        "router": {
            "listenPort": router["port"],
            "httpPort": fixed_port(spec, svc.ROUTER),
            "publicHost": router["public_host"],
            "chunkBytes": router["chunk_bytes"],
            "service": {"type": router["service_type"], "annotations": {}},
        },
        "routeTable": svc.route_table_yaml(spec),
        "clusterManager": {"httpPort": fixed_port(spec, svc.CLUSTER_MANAGER), "storage": "1Gi"},
        "nodes": {
            "replicas": nodes["replicas"],
            "compute": nodes["compute"],
            "workers": nodes["workers"],
            "httpPort": fixed_port(spec, svc.NODE_MANAGER),
            "storage": nodes["storage"],
        },
        "storageClass": "",
        "ray": {"address": ray["address"], "head": ray["head"], "port": ray["port"]},
        "flow": {
            "httpPort": fixed_port(spec, svc.FLOW),
            "storage": "1Gi",
            "expose": bool(spec.section("flow")["expose"]),
        },
        "serving": {
            "enabled": bool(spec.section("serving")["enabled"]),
            "httpPort": fixed_port(spec, svc.SERVING),
            "storage": spec.section("serving")["storage"],
        },
        "observability": {
            "metrics": obs["metrics"],
            "serviceMonitor": obs["service_monitor"],
            "logLevel": obs["log_level"],
            "logJson": obs["log_json"],
        },
        # only what cluster.yaml sets: the chart's defaults give every container requests and limits
        "resources": {
            camel: spec.section("resources")[key]
            for key, camel in _CAMEL.items()
            if spec.section("resources").get(key)
        },
        "extraEnv": {"all": spec.env_only("all")}
        | {camel: spec.env_only(key) for key, camel in _CAMEL.items()},
        "networkPolicy": {
            "enabled": True,
            "metricsNamespaceSelector": {"kubernetes.io/metadata.name": "monitoring"},
        },
    }


def _secret_values(ref: tuple[str, str] | None) -> dict[str, str]:
    return {"existingSecret": ref[0], "existingSecretKey": ref[1]} if ref else {}


def exact_number(value: int) -> int | str:
    """``value`` as Helm will read it back exactly (the chart's templates accept both)."""
    return value if value <= MAX_EXACT_FLOAT_INT else str(value)


def helm_files(spec: ClusterSpec) -> dict[str, str]:
    header = (
        f"# Rendered by `silobridge cluster render --target helm` for party {spec.party_id}.\n"
        f"#   helm install {spec.name} deploy/helm/silobridge -f {VALUES_FILE}\n"
    )
    return {VALUES_FILE: header + dump_yaml(helm_values(spec))}
