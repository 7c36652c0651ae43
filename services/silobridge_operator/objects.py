"""The Kubernetes objects of one party, from a SilobridgeCluster's spec (the body of cluster.yaml).

The environment of every container comes from :func:`silobridge_cli.deploy.services.service_env`,
the function every other target (local processes, compose, the Helm values) is rendered with, so a
renamed setting is fixed in one place. Bus and database URLs go into a Secret, never into a pod
spec. Routes live in a ConfigMap that is *not* part of any pod template: a changed route table (a
SilobridgePeer added or removed) reaches the mounted file without rolling a single pod.
"""

from __future__ import annotations

from typing import Any

from silobridge_cli.deploy import services as svc
from silobridge_cli.deploy.spec import ClusterSpec, parse_cluster
from silobridge_cli.deploy.yamlio import dump_yaml

CLUSTER_API_VERSION = "silobridge.io/v1"  # cluster.yaml's own apiVersion/kind
DATA_DIR = "/data"
CERT_DIR = "/etc/silobridge/certs"
CONFIG_DIR = "/etc/silobridge/config"
TRUST_DIR = "/etc/silobridge/trust"
ROUTES_KEY = "routes.yaml"
TRUST_KEY = "peers-ca.crt"
LAYOUT = svc.Layout(
    http_host="0.0.0.0",
    data_dir=DATA_DIR,
    cert_dir=CERT_DIR,
    route_table=f"{CONFIG_DIR}/{ROUTES_KEY}",
    listen_host="0.0.0.0",
)
_SECRET_ENV = {svc.ENV + "BUS_URL": "bus-url", svc.ENV + "DB_URL": "db-url"}


def parse_spec(spec: dict[str, Any], source: str) -> ClusterSpec:
    """A CR's spec is cluster.yaml without apiVersion/kind; validate it exactly as the CLI does."""
    doc = {"apiVersion": CLUSTER_API_VERSION, "kind": "Cluster", **spec}
    return parse_cluster(doc, source=source)


def names(cluster: str) -> dict[str, str]:
    return {
        "secret": f"{cluster}-urls",
        "routes": f"{cluster}-routes",
        "router": f"{cluster}-router",
        "cluster_manager": f"{cluster}-cluster-manager",
        "node_manager": f"{cluster}-node-manager",
        "flow": f"{cluster}-flow",
        "serving": f"{cluster}-serving",
    }


def labels(cluster: str, spec: ClusterSpec, component: str | None = None) -> dict[str, str]:
    out = {
        "app.kubernetes.io/name": "silobridge",
        "app.kubernetes.io/instance": cluster,
        "app.kubernetes.io/managed-by": "silobridge-operator",
        "silobridge.io/party": str(spec.party_id),
    }
    if component:
        out["app.kubernetes.io/component"] = component
    return out


def image(spec: ClusterSpec) -> str:
    images = spec.section("images")
    return f"{images['repository']}:{images['tag']}"


def version(spec: ClusterSpec) -> str:
    return str(spec.section("images")["tag"])


def route_table(spec: ClusterSpec, peers: list[dict[str, Any]]) -> dict[str, Any]:
    """cluster.yaml's routes plus every SilobridgePeer's (a peer CR wins over the spec)."""
    table = svc.route_table(spec)
    for peer in peers:
        table["routes"][int(peer["partyId"])] = {"host": str(peer["host"]), "port": int(peer["port"])}
    table["routes"] = dict(sorted(table["routes"].items()))
    if "allow" in table:
        table["allow"] = sorted(set(table["allow"]) | {int(p["partyId"]) for p in peers})
    return table


def routes_config_map(
    cluster: str, namespace: str, spec: ClusterSpec, peers: list[dict[str, Any]], trust: str
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": names(cluster)["routes"],
            "namespace": namespace,
            "labels": labels(cluster, spec),
        },
        "data": {ROUTES_KEY: dump_yaml(route_table(spec, peers)), TRUST_KEY: trust},
    }


def _env(spec: ClusterSpec, service: svc.ServiceDef, cluster: str) -> list[dict[str, Any]]:
    env = svc.service_env(
        spec,
        service,
        LAYOUT,
        http_port=_http_port(spec, service),
        ray_head_host=f"{cluster}-ray-head",
    )
    if service is svc.FLOW and spec.db_secret is not None:
        env[svc.ENV + "DB_URL"] = ""
    out: list[dict[str, Any]] = []
    for key, value in env.items():
        if key in _SECRET_ENV:
            out.append({"name": key, "valueFrom": {"secretKeyRef": _secret_ref(cluster, spec, key)}})
        elif service is svc.NODE_MANAGER and key == svc.ENV + "NODE_ID":
            out.append({"name": key, "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}})
        elif service is svc.NODE_MANAGER and key == svc.ENV + "DATA_DIR":
            out.append({"name": key, "value": DATA_DIR})
        else:
            out.append({"name": key, "value": value})
    return out


def _secret_ref(cluster: str, spec: ClusterSpec, key: str) -> dict[str, str]:
    """The user's existing Secret (cluster.yaml ``existing_secret``), else the operator's own."""
    existing = spec.bus_secret if key == svc.ENV + "BUS_URL" else spec.db_secret
    if existing is not None:
        return {"name": existing[0], "key": existing[1]}
    return {"name": names(cluster)["secret"], "key": _SECRET_ENV[key]}


def _http_port(spec: ClusterSpec, service: svc.ServiceDef) -> int:
    port = svc.http_port(spec, service, per_node_offset=False)
    defaults = {
        svc.ROUTER: 9371,
        svc.CLUSTER_MANAGER: 9372,
        svc.NODE_MANAGER: 9373,
        svc.FLOW: 9380,
        svc.SERVING: 9390,
    }
    return port or defaults[service]


def _container(spec: ClusterSpec, service: svc.ServiceDef, cluster: str) -> dict[str, Any]:
    port = _http_port(spec, service)
    ports = [{"name": "http", "containerPort": port}]
    mounts: list[dict[str, Any]] = [
        {"name": "data", "mountPath": DATA_DIR},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    if service in (svc.ROUTER, svc.FLOW):
        mounts.append({"name": "config", "mountPath": CONFIG_DIR, "readOnly": True})
    if service is svc.ROUTER:
        ports.insert(0, {"name": "grpc", "containerPort": int(spec.section("router")["port"])})
        mounts.append({"name": "certs", "mountPath": CERT_DIR, "readOnly": True})
    probe = {"httpGet": {"path": "/readyz", "port": "http"}, "periodSeconds": 10}
    return {
        "name": service.key.replace("_", "-"),
        "image": image(spec),
        "imagePullPolicy": spec.section("images")["pull_policy"],
        "command": ["python", "-m", service.module],
        "env": _env(spec, service, cluster),
        "ports": ports,
        "readinessProbe": probe,
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 20},
        "startupProbe": {**probe, "failureThreshold": 30},
        "resources": dict(spec.section("resources").get(service.key, {})),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": mounts,
    }


def _pod(spec: ClusterSpec, service: svc.ServiceDef, cluster: str) -> dict[str, Any]:
    component = service.key.replace("_", "-")
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {}}]
    if service not in _CLAIMED:
        volumes.append({"name": "data", "emptyDir": {}})
    if service in (svc.ROUTER, svc.FLOW):
        volumes.append({"name": "config", "configMap": {"name": names(cluster)["routes"]}})
    if service is svc.ROUTER:
        volumes.append({"name": "certs", "secret": {"secretName": spec.pki_secret, "defaultMode": 0o440}})
    return {
        "metadata": {"labels": labels(cluster, spec, component)},
        "spec": {
            "automountServiceAccountToken": False,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 10001,
                "fsGroup": 10001,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [_container(spec, service, cluster)],
            "volumes": volumes,
        },
    }


# Services whose data dir is a volume claim of their own (a StatefulSet): the node-managers' table
# partitions, serving's deployed model versions (cluster.yaml section with ``storage``).
_CLAIMED = {svc.NODE_MANAGER: "nodes", svc.SERVING: "serving"}


def _workload(spec: ClusterSpec, service: svc.ServiceDef, cluster: str, namespace: str) -> dict[str, Any]:
    component = service.key.replace("_", "-")
    name = names(cluster)[service.key]
    selector = {
        "matchLabels": {"app.kubernetes.io/instance": cluster, "app.kubernetes.io/component": component}
    }
    meta = {"name": name, "namespace": namespace, "labels": labels(cluster, spec, component)}
    if service in _CLAIMED:
        section = spec.section(_CLAIMED[service])
        claim = {
            "metadata": {"name": "data"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": section["storage"]}},
            },
        }
        return {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": meta,
            "spec": {
                "replicas": int(section["replicas"]) if service is svc.NODE_MANAGER else 1,
                "serviceName": name,
                "selector": selector,
                "updateStrategy": {"type": "RollingUpdate"},
                "template": _pod(spec, service, cluster),
                "volumeClaimTemplates": [claim],
            },
        }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": 1,
            "selector": selector,
            "progressDeadlineSeconds": 600,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": _pod(spec, service, cluster),
        },
    }


def _service(spec: ClusterSpec, service: svc.ServiceDef, cluster: str, namespace: str) -> dict[str, Any]:
    component = service.key.replace("_", "-")
    ports = [{"name": "http", "port": _http_port(spec, service), "targetPort": "http"}]
    out: dict[str, Any] = {"type": "ClusterIP"}
    if service is svc.ROUTER:
        router = spec.section("router")
        ports.insert(0, {"name": "grpc", "port": int(router["port"]), "targetPort": "grpc"})
        out["type"] = router["service_type"]
    if service is svc.NODE_MANAGER:
        out["clusterIP"] = "None"
    out |= {
        "selector": {"app.kubernetes.io/instance": cluster, "app.kubernetes.io/component": component},
        "ports": ports,
    }
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": names(cluster)[service.key],
            "namespace": namespace,
            "labels": labels(cluster, spec, component),
        },
        "spec": out,
    }


def url_secret(cluster: str, namespace: str, spec: ClusterSpec) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": names(cluster)["secret"],
            "namespace": namespace,
            "labels": labels(cluster, spec),
        },
        "stringData": {
            key: url
            for key, url, existing in (
                ("bus-url", spec.bus_url, spec.bus_secret),
                ("db-url", spec.db_url, spec.db_secret),
            )
            if existing is None
        },
    }


def party_objects(cluster: str, namespace: str, spec: ClusterSpec) -> list[dict[str, Any]]:
    """Everything but the routes ConfigMap (which also depends on the SilobridgePeers)."""
    secret = url_secret(cluster, namespace, spec)
    out = [secret] if secret["stringData"] else []
    for service in (s for s in svc.SERVICES if svc.enabled(spec, s)):
        out.append(_service(spec, service, cluster, namespace))
        out.append(_workload(spec, service, cluster, namespace))
    return out


def flow_url(cluster: str, namespace: str, spec: ClusterSpec) -> str:
    return f"http://{names(cluster)['flow']}.{namespace}.svc:{_http_port(spec, svc.FLOW)}"
