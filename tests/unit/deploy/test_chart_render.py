"""The chart rendered by a real helm starts: every container's env and args load into that
service's own settings class, Ray workers advertise what node-managers ask for, every object is
valid Kubernetes, and the pods meet the restricted Pod Security Standard."""

from __future__ import annotations

import importlib
import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from chart_render import Container, by_kind, containers, pod_specs, render, render_text
from deploy_helpers import CHART, EXAMPLES, ROOT, example_id, minimal
from ray_topology import ray_flags, requested_ray_resource

from node_manager.settings import NodeManagerSettings
from rollsite_router.routes import parse_route_table
from silobridge.config import load_settings
from silobridge.errors import InvalidInput
from silobridge_cli.deploy import services as svc
from silobridge_cli.deploy.compose import compose_project
from silobridge_cli.deploy.helm import helm_files
from silobridge_cli.deploy.spec import load_cluster, parse_cluster

EXTERNAL_SECRETS = {
    "bank-a-bus": {"url": "amqp://fl:s3cret@rabbitmq:5672/"},
    "bank-a-db": {"url": "postgresql://fl@pg/flow"},
}


def _from_cluster(doc: dict[str, Any]) -> Callable[[], str]:
    return lambda: helm_files(parse_cluster(doc))["values.yaml"]


# cluster.yaml naming Secrets: no credential in the file, the values or the rendered objects
EXISTING_SECRETS = minimal(
    bus={"existing_secret": {"name": "bank-a-bus", "key": "url"}},
    database={"existing_secret": {"name": "bank-a-db", "key": "url"}},
)


RAY_HEAD = minimal(
    nodes={"replicas": 2, "compute": "ray", "workers": 4},
    ray={"head": True},
    database={"url": "postgresql://u:p@postgres:5432/flow"},
    flow={"expose": True},
    observability={"service_monitor": True},
)
CASES: dict[str, Callable[[], str] | None] = {
    "chart-defaults": None,
    **{example_id(p): (lambda p=p: helm_files(load_cluster(p))["values.yaml"]) for p in EXAMPLES},
    "party-1000000": _from_cluster(minimal(party={"id": 1_000_000}, router={"chunk_bytes": 4_194_304})),
    "party-2^60": _from_cluster(minimal(party={"id": 2**60 + 1})),
    "ray-head": _from_cluster(RAY_HEAD),
    "ray-address": _from_cluster(minimal(nodes={"compute": "ray"}, ray={"address": "kuberay-head-svc:6379"})),
    "existing-secrets": _from_cluster(EXISTING_SECRETS),
}
SETTINGS = {s.module: s.settings for s in svc.SERVICES}


def rendered(case: str, tmp: Path, *extra: str) -> list[dict[str, Any]]:
    make = CASES[case]
    return render_text(None if make is None else make(), tmp, *extra)


def settings_class(path: str) -> Any:
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


def service_containers(docs: list[dict[str, Any]]) -> list[tuple[Container, str]]:
    out = []
    for c in containers(docs, EXTERNAL_SECRETS):
        argv = c.argv
        if argv[:2] == ["python", "-m"]:
            out.append((c, argv[2]))
    return out


@pytest.mark.parametrize("case", list(CASES))
def test_every_container_loads_its_service_settings(case: str, tmp_path: Path) -> None:
    docs = rendered(case, tmp_path)
    found = service_containers(docs)
    make = CASES[case]
    serving = yaml.safe_load(make() if make else "{}").get("serving", {}).get("enabled", True)
    assert sorted({m for _, m in found}) == sorted(m for m in SETTINGS if serving or m != "serving")
    config = {d["metadata"]["name"]: d["data"] for d in by_kind(docs, "ConfigMap")}
    for c, module in found:
        model = settings_class(SETTINGS[module])
        unknown = sorted(
            k
            for k in c.env
            if k.startswith("SILOBRIDGE_") and k.removeprefix("SILOBRIDGE_").lower() not in model.model_fields
        )
        assert unknown == [], f"{c.name}: variables its settings ignore"
        s = load_settings(model, c.env)  # what python -m <module> does first; raises on a bad value
        assert str(s.party_id) == c.workload["metadata"]["labels"]["silobridge.io/party"]
        assert s.http_port == next(p["containerPort"] for p in c.spec["ports"] if p["name"] == "http")
        route_table = getattr(s, "route_table", None)
        if route_table is not None:
            mount = c.mount_of(str(route_table))
            assert mount is not None, f"{c.name}: {route_table} is on no volume"
            volume = next(
                v for v in c.workload["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"]
            )
            text = config[volume["configMap"]["name"]][Path(str(route_table)).name]
            table = parse_route_table(text, expected_self=s.party_id)  # the router's own parser
            assert table.self_party == s.party_id
        if module == "rollsite_router":
            assert c.mount_of(str(s.cert_dir)) is not None
            assert s.listen_port == next(p["containerPort"] for p in c.spec["ports"] if p["name"] == "grpc")


def test_numbers_reach_the_processes_exactly(tmp_path: Path) -> None:
    """The known bug: 1048576 and party 1000000 rendered as 1.048576e+06 / 1e+06."""
    for case, party in (("party-1000000", "1000000"), ("party-2^60", str(2**60 + 1))):
        env = {c.spec["name"]: c.env for c, _ in service_containers(rendered(case, tmp_path))}
        assert {e["SILOBRIDGE_PARTY_ID"] for e in env.values()} == {party}
    env = {c.spec["name"]: c.env for c, _ in service_containers(rendered("party-1000000", tmp_path))}
    assert env["router"]["SILOBRIDGE_CHUNK_BYTES"] == "4194304"
    defaults = {c.spec["name"]: c.env for c, _ in service_containers(rendered("chart-defaults", tmp_path))}
    assert defaults["router"]["SILOBRIDGE_CHUNK_BYTES"] == "1048576"


def test_extra_env_numbers_written_by_hand_stay_exact(tmp_path: Path) -> None:
    values = {
        "extraEnv": {"router": {"SILOBRIDGE_MAX_PAYLOAD_BYTES": 62914560, "SILOBRIDGE_ACK_TIMEOUT_S": 2.5}}
    }
    env = {c.spec["name"]: c.env for c, _ in service_containers(render(values, tmp_path))}["router"]
    assert env["SILOBRIDGE_MAX_PAYLOAD_BYTES"] == "62914560"
    assert env["SILOBRIDGE_ACK_TIMEOUT_S"] == "2.5"


@pytest.mark.parametrize("case", ["ray-head", "ray-address"])
def test_ray_workers_advertise_what_node_managers_ask_for(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = rendered(case, tmp_path)
    (nm,) = [w for w in by_kind(docs, "StatefulSet") if w["metadata"]["name"].endswith("-node-manager")]
    cs = {c.spec["name"]: c for c in containers(docs, EXTERNAL_SECRETS) if c.workload is nm}
    worker, manager = cs["ray-worker"], cs["node-manager"]
    # a native sidecar: started and ready before the node-manager connects to Ray
    assert worker.init and worker.spec["restartPolicy"] == "Always" and "startupProbe" in worker.spec
    settings = load_settings(NodeManagerSettings, manager.env)
    wanted = requested_ray_resource(settings, monkeypatch)
    flags = ray_flags(worker.argv)
    advertised = json.loads(flags["--resources"])
    for name, amount in wanted.items():
        assert advertised.get(name, 0) >= amount, (
            f"the worker advertises {advertised}, tasks ask for {wanted}"
        )
    assert flags["--address"] == settings.ray_address
    # the driver finds its raylet through the shared /tmp (Ray's session directory)
    assert worker.mount_of("/tmp/ray")["name"] == manager.mount_of("/tmp/ray")["name"]  # type: ignore[index]
    if case == "ray-head":
        (head,) = [c for c in containers(docs) if c.spec["name"] == "ray-head"]
        head_flags = ray_flags(head.argv)
        (service,) = [s for s in by_kind(docs, "Service") if s["metadata"]["name"].endswith("-ray-head")]
        host, port = settings.ray_address.rsplit(":", 1)
        assert host == service["metadata"]["name"]
        assert int(port) == service["spec"]["ports"][0]["port"] == int(head_flags["--port"])
        assert head_flags["--num-cpus"] == "0"  # tasks only on the node-managers' workers


def test_no_ray_worker_without_ray(tmp_path: Path) -> None:
    docs = rendered("chart-defaults", tmp_path)
    assert all(c.spec["name"] != "ray-worker" for c in containers(docs))


# ----- Kubernetes schemas ------------------------------------------------------------------
NO_SCHEMA = {"ServiceMonitor", "PrometheusRule"}  # the Prometheus operator's CRDs


def newest_kubernetes(n: int = 3) -> list[str]:
    minors = sorted(
        {kubernetes_validate.utils.major_minor(v) for v in kubernetes_validate.utils.all_versions()}
    )
    return [str(v) for v in minors[-n:]]


@pytest.mark.parametrize("case", list(CASES))
def test_every_object_is_valid_kubernetes_strict(case: str, tmp_path: Path) -> None:
    docs = rendered(case, tmp_path, "--set", "observability.prometheusRule=true")
    versions = newest_kubernetes()
    assert len(versions) == 3
    checked = 0
    for doc in docs:
        if doc["kind"] in NO_SCHEMA:
            continue
        for version in versions:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(
                    f"{doc['kind']}/{doc['metadata']['name']} on {version}: {'.'.join(map(str, exc.path))}: {exc.message}"
                )
            checked += 1
    assert checked >= 10 * len(versions)


CRDS = sorted((ROOT / "deploy" / "operator" / "crds").glob("*.yaml"))


@pytest.mark.parametrize("path", CRDS, ids=lambda p: p.name)
def test_operator_crds_are_valid_kubernetes_strict(path: Path) -> None:
    (crd,) = [d for d in yaml.safe_load_all(path.read_text()) if d]
    assert crd["kind"] == "CustomResourceDefinition"
    for version in newest_kubernetes():
        try:
            kubernetes_validate.validate(crd, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{path.name} on {version}: {'.'.join(map(str, exc.path))}: {exc.message}")


# ----- restricted Pod Security Standard ------------------------------------------------------
RESTRICTED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


def restricted_violations(pod: dict[str, Any]) -> list[str]:
    """The checks of the "restricted" profile (baseline included), as Kubernetes documents them."""
    bad = []
    psc = pod.get("securityContext", {})
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(key):
            bad.append(key)
    if psc.get("windowsOptions", {}).get("hostProcess"):
        bad.append("hostProcess")
    for v in pod.get("volumes", []):
        kinds = set(v) - {"name"}
        if not kinds <= RESTRICTED_VOLUMES:
            bad.append(f"volume {v['name']}: {kinds}")
    if psc.get("sysctls"):
        bad.append("sysctls")
    if psc.get("runAsUser") == 0:
        bad.append("pod runAsUser 0")
    pod_seccomp = psc.get("seccompProfile", {}).get("type")
    if pod_seccomp not in (None, "RuntimeDefault", "Localhost"):
        bad.append(f"pod seccomp {pod_seccomp}")
    if psc.get("seLinuxOptions", {}).get("type") not in (
        None,
        "",
        "container_t",
        "container_init_t",
        "container_kvm_t",
    ):
        bad.append("seLinux type")
    for c in pod["containers"] + pod.get("initContainers", []) + pod.get("ephemeralContainers", []):
        sc, name = c.get("securityContext", {}), c["name"]
        if sc.get("privileged"):
            bad.append(f"{name}: privileged")
        caps = sc.get("capabilities", {})
        if "ALL" not in caps.get("drop", []):
            bad.append(f"{name}: capabilities not dropped")
        if set(caps.get("add", [])) - {"NET_BIND_SERVICE"}:
            bad.append(f"{name}: adds capabilities")
        if any(p.get("hostPort") for p in c.get("ports", [])):
            bad.append(f"{name}: hostPort")
        if sc.get("allowPrivilegeEscalation") is not False:
            bad.append(f"{name}: allowPrivilegeEscalation not false")
        if sc.get("runAsNonRoot", psc.get("runAsNonRoot")) is not True:
            bad.append(f"{name}: runAsNonRoot")
        if sc.get("runAsUser") == 0:
            bad.append(f"{name}: runAsUser 0")
        seccomp = sc.get("seccompProfile", {}).get("type", pod_seccomp)
        if seccomp not in ("RuntimeDefault", "Localhost"):
            bad.append(f"{name}: seccomp {seccomp}")
        if sc.get("procMount", "Default") != "Default":
            bad.append(f"{name}: procMount")
        if sc.get("appArmorProfile", {}).get("type", "RuntimeDefault") not in ("RuntimeDefault", "Localhost"):
            bad.append(f"{name}: appArmor")
    return bad


@pytest.mark.parametrize("case", list(CASES))
def test_pods_meet_the_restricted_pod_security_standard(case: str, tmp_path: Path) -> None:
    pods = pod_specs(rendered(case, tmp_path))
    assert len(pods) >= 4
    assert {name: restricted_violations(pod) for name, pod in pods} == {name: [] for name, _ in pods}


def test_the_restricted_check_catches_what_it_checks() -> None:
    """Guards the check above: the gaps the chart used to have are each reported."""
    old_ray_head = {"containers": [{"name": "ray-head", "ports": [{"containerPort": 6379}]}], "volumes": []}
    assert len(restricted_violations(old_ray_head)) == 4  # caps, escalation, non-root, seccomp
    old_router = {
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001},
        "containers": [
            {
                "name": "r",
                "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
            }
        ],
        "volumes": [{"name": "h", "hostPath": {"path": "/"}}],
    }
    assert restricted_violations(old_router) == ["volume h: {'hostPath'}", "r: seccomp None"]


# ----- hardening ---------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["chart-defaults", "ray-head", "ray-address"])
def test_every_container_has_resources_and_a_startup_probe(case: str, tmp_path: Path) -> None:
    for c in containers(rendered(case, tmp_path), EXTERNAL_SECRETS):
        res = c.spec.get("resources", {})
        assert {"cpu", "memory"} <= set(res.get("requests", {})), c.name
        assert "memory" in res.get("limits", {}), c.name
        assert "startupProbe" in c.spec, c.name


def test_cluster_yaml_resources_replace_the_defaults(tmp_path: Path) -> None:
    doc = minimal(
        resources={"node_manager": {"requests": {"cpu": "3", "memory": "6Gi"}, "limits": {"memory": "12Gi"}}}
    )
    docs = render_text(helm_files(parse_cluster(doc))["values.yaml"], tmp_path)
    res = {c.spec["name"]: c.spec["resources"] for c in containers(docs)}
    assert res["node-manager"]["requests"] == {"cpu": "3", "memory": "6Gi"}
    assert res["node-manager"]["limits"]["memory"] == "12Gi"
    assert res["router"]["requests"]["memory"] == "256Mi"  # a default, where cluster.yaml says nothing


def test_pods_get_no_api_token_and_follow_scheduling_values(tmp_path: Path) -> None:
    values = {
        "imagePullSecrets": [{"name": "regcred"}],
        "nodeSelector": {"silobridge.io/pool": "fl"},
        "tolerations": [{"key": "fl", "operator": "Exists", "effect": "NoSchedule"}],
        "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": []}},
        "nodes": {"compute": "ray"},
        "ray": {"head": True},
    }
    docs = render(values, tmp_path)
    (account,) = by_kind(docs, "ServiceAccount")
    assert account["automountServiceAccountToken"] is False
    pods = pod_specs(docs)
    assert any(name.endswith("-ray-head") for name, _ in pods)
    for name, pod in pods:
        assert pod["automountServiceAccountToken"] is False, name
        assert pod["serviceAccountName"] == account["metadata"]["name"], name
        assert pod["imagePullSecrets"] == values["imagePullSecrets"], name
        assert pod["nodeSelector"] == values["nodeSelector"], name
        assert pod["tolerations"] == values["tolerations"], name
        assert pod["affinity"] == values["affinity"], name


def test_router_has_a_disruption_budget(tmp_path: Path) -> None:
    docs = render({"router": {"replicas": 2}}, tmp_path)
    (pdb,) = by_kind(docs, "PodDisruptionBudget")
    (router,) = [d for d in by_kind(docs, "Deployment") if d["metadata"]["name"].endswith("-router")]
    assert pdb["spec"]["selector"]["matchLabels"] == router["spec"]["selector"]["matchLabels"]
    assert pdb["spec"]["maxUnavailable"] == 1 and router["spec"]["replicas"] == 2
    assert router["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def _selects(policy: dict[str, Any], labels: dict[str, str]) -> bool:
    selector = policy["spec"]["podSelector"]
    wanted = selector.get("matchLabels", {})
    for expr in selector.get("matchExpressions", []):
        assert expr["operator"] == "NotIn", expr  # the only operator the chart uses
        if labels.get(expr["key"]) in expr["values"]:
            return False
    return all(labels.get(k) == v for k, v in wanted.items())


def egress_of(docs: list[dict[str, Any]], labels: dict[str, str]) -> list[dict[str, Any]]:
    rules = []
    for p in by_kind(docs, "NetworkPolicy"):
        if _selects(p, labels) and "Egress" in p["spec"]["policyTypes"]:
            rules += p["spec"].get("egress", [])
    return rules


def leaves_namespace(rule: dict[str, Any]) -> bool:
    """Whether an egress rule lets traffic go beyond the namespace to anything but DNS."""
    if not rule.get("to"):
        return True  # to anywhere
    ports = {p.get("port") for p in rule.get("ports", [])}
    return any(set(peer) != {"podSelector"} and ports != {53} for peer in rule["to"])


@pytest.mark.parametrize("case", ["chart-defaults", "ray-head"])
def test_only_the_router_leaves_the_namespace(case: str, tmp_path: Path) -> None:
    docs = rendered(case, tmp_path)
    for w in [d for d in docs if d["kind"] in ("Deployment", "StatefulSet")]:
        labels = w["spec"]["template"]["metadata"]["labels"]
        rules = egress_of(docs, labels)
        assert rules, f"{w['metadata']['name']}: no egress policy selects it"
        component = labels["app.kubernetes.io/component"]
        assert any(map(leaves_namespace, rules)) == (component == "router"), component


def pod_labels(docs: list[dict[str, Any]], component: str) -> dict[str, str]:
    (w,) = [
        d
        for d in docs
        if d["kind"] in ("Deployment", "StatefulSet")
        and d["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"] == component
    ]
    return dict(w["spec"]["template"]["metadata"]["labels"])


def test_extra_egress_is_added_for_external_services(tmp_path: Path) -> None:
    rule = {"to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}], "ports": [{"port": 5432}]}
    docs = render({"networkPolicy": {"extraEgress": [rule]}}, tmp_path)
    assert rule in egress_of(
        docs, {"app.kubernetes.io/instance": "bank-a", "app.kubernetes.io/component": "flow"}
    )


def test_existing_secrets_need_no_credential_in_values(tmp_path: Path) -> None:
    values = CASES["existing-secrets"]()  # type: ignore[misc]
    assert "amqp://" not in values and "postgresql://" not in values
    docs = rendered("existing-secrets", tmp_path)
    assert by_kind(docs, "Secret") == []  # no Secret made from values
    env = {c.spec["name"]: c.env for c, _ in service_containers(docs)}
    assert env["router"]["SILOBRIDGE_BUS_URL"] == EXTERNAL_SECRETS["bank-a-bus"]["url"]
    assert env["flow"]["SILOBRIDGE_DB_URL"] == EXTERNAL_SECRETS["bank-a-db"]["url"]
    assert "amqp://" not in yaml.safe_dump_all(docs)


def test_existing_secret_needs_kubernetes() -> None:
    spec = parse_cluster(EXISTING_SECRETS)
    with pytest.raises(InvalidInput, match=r"bus\.url: target compose needs the broker's URL"):
        compose_project(spec, Path("out"))
    with pytest.raises(InvalidInput, match=r"bus: set url, or existing_secret"):
        parse_cluster(minimal(bus={"prefix": "p9999"}))


def test_flow_is_exposed_only_when_asked(tmp_path: Path) -> None:
    def exposed(docs: list[dict[str, Any]]) -> bool:
        flow = pod_labels(docs, "flow")
        return any(
            _selects(p, flow) and any(not r.get("from") for r in p["spec"].get("ingress", []))
            for p in by_kind(docs, "NetworkPolicy")
        )

    assert not exposed(rendered("chart-defaults", tmp_path))
    assert exposed(rendered("ray-head", tmp_path))  # flow.expose: true


def test_serving_is_reached_only_by_the_partys_clients(tmp_path: Path) -> None:
    """Its score route takes no token: no policy may admit the namespace, or the world, to it."""
    client = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "bank-a-apps"}}}
    docs = render({"serving": {"clients": [client]}}, tmp_path)
    serving = pod_labels(docs, "serving")
    policies = [p for p in by_kind(docs, "NetworkPolicy") if _selects(p, serving)]
    assert [p["metadata"]["name"] for p in policies] == ["bank-a-serving"]
    metrics = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    admitted = []
    for rule in policies[0]["spec"]["ingress"]:
        assert rule["ports"] == [{"port": "http"}]
        admitted += rule["from"]
    label = {"podSelector": {"matchLabels": {"silobridge.io/serving-client": "true"}}}
    assert admitted == [label, client, metrics]
    assert not any(map(leaves_namespace, egress_of(docs, serving)))
    assert _selects(by_kind(docs, "NetworkPolicy")[0], pod_labels(docs, "flow"))  # the others: as before
    (c,) = [c for c in containers(docs) if c.spec["name"] == "serving"]
    assert c.spec["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c.spec["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c.workload["kind"] == "StatefulSet" and c.mount_of("/data") is not None
    assert c.workload["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"] == "9390"
    off = render({"serving": {"enabled": False}}, tmp_path)
    assert not [d for d in off if "serving" in d["metadata"]["name"]]


# ----- monitoring ----------------------------------------------------------------------------
def registered_metrics() -> set[str]:
    import re

    literal = re.compile(r"[\"'](silobridge_[a-z0-9_]+)[\"']")
    return {m for path in (ROOT / "services").rglob("*.py") for m in literal.findall(path.read_text())}


def test_service_monitor_sets_the_label_the_dashboard_filters_on(tmp_path: Path) -> None:
    docs = rendered("ray-head", tmp_path)
    (monitor,) = by_kind(docs, "ServiceMonitor")
    (endpoint,) = monitor["spec"]["endpoints"]
    relabel = {r["targetLabel"]: r["sourceLabels"] for r in endpoint["relabelings"]}
    assert relabel["silobridge_party"] == ["__meta_kubernetes_pod_label_silobridge_io_party"]
    dashboard = (ROOT / "deploy" / "grafana" / "silobridge-dashboard.json").read_text()
    assert "silobridge_party=~" in dashboard
    scraped = [
        s for s in by_kind(docs, "Service") if s["metadata"]["labels"].get("silobridge.io/metrics") == "true"
    ]
    assert {s["metadata"]["labels"]["app.kubernetes.io/component"] for s in scraped} >= {
        "router",
        "cluster-manager",
        "node-manager",
        "flow",
        "serving",
    }
    for s in scraped:
        assert any(p["name"] == endpoint["port"] for p in s["spec"]["ports"])
    pods = {
        w["spec"]["template"]["metadata"]["labels"]["silobridge.io/party"]
        for w in docs
        if w["kind"] in ("Deployment", "StatefulSet")
    }
    assert pods == {"9999"}


def test_alerts_query_metrics_the_services_export(tmp_path: Path) -> None:
    import re

    docs = render({"observability": {"prometheusRule": True}, "party": {"id": 1000000}}, tmp_path)
    (rule,) = by_kind(docs, "PrometheusRule")
    alerts = {r["alert"]: r["expr"] for g in rule["spec"]["groups"] for r in g["rules"]}
    assert {
        "SilobridgeRouterPeerDown",
        "SilobridgeJobFailures",
        "SilobridgeDeadLetterGrowth",
        "SilobridgeTaskBacklog",
    } <= set(alerts)
    used = {m for e in alerts.values() for m in re.findall(r"\b(silobridge_[a-z0-9_]+)\b(?=\s*[{\[(])", e)}
    assert used and used <= registered_metrics(), sorted(used - registered_metrics())
    for name, expr in alerts.items():
        if "silobridge_" in expr and name != "SilobridgeDeadLetterGrowth":
            assert 'silobridge_party="1000000"' in expr, name


# ----- versions ------------------------------------------------------------------------------
def test_chart_version_and_image_tag_follow_the_package_version(tmp_path: Path) -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["version"] == chart["appVersion"] == version
    schema = json.loads((ROOT / "deploy" / "schema" / "cluster.schema.json").read_text())
    assert schema["properties"]["images"]["properties"]["tag"]["default"] == version
    images = {c.spec["image"] for c in containers(rendered("chart-defaults", tmp_path))}
    assert images == {f"ghcr.io/silobridge/silobridge:{version}"}
    images = {
        c.spec["image"]
        for c in containers(render({"image": {"repository": "reg.example/sb", "tag": "7.1"}}, tmp_path))
    }
    assert images == {"reg.example/sb:7.1"}
