"""A SilobridgeCluster on a real API server: its objects, their owner, and the conditions.

No kubelet or controller-manager runs, so no Deployment ever gets a status by itself. Where a
test needs one (pods became available, a rollout passed its deadline) it writes the Deployment's
status subresource as the deployment controller would, and checks what the operator concludes.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import yaml
from envtest import REPO
from kubetest import apply, namespace, wait_for

pytestmark = [pytest.mark.kube, pytest.mark.slow]
CRS = "/apis/silobridge.io/v1alpha1/namespaces/{ns}/silobridgeclusters"


def example(ns: str) -> dict[str, Any]:
    cr = yaml.safe_load((REPO / "deploy/operator/examples/silobridgecluster-9999.yaml").read_text())
    cr["metadata"]["namespace"] = ns
    return cr


def condition(cr: dict[str, Any], kind: str) -> dict[str, Any]:
    return next((c for c in cr.get("status", {}).get("conditions", []) if c["type"] == kind), {})


def get(api: httpx.Client, path: str) -> dict[str, Any]:
    resp = api.get(path)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def workloads(api: httpx.Client, ns: str) -> list[dict[str, Any]]:
    out = []
    for kind in ("deployments", "statefulsets"):
        for item in get(api, f"/apis/apps/v1/namespaces/{ns}/{kind}")["items"]:
            out.append({**item, "plural": kind})
    return out


def play_controller(api: httpx.Client, ns: str, **conditions_: Any) -> None:
    """Write each workload's status as its controller would once every pod is updated and ready."""
    for w in workloads(api, ns):
        replicas = w["spec"]["replicas"]
        status: dict[str, Any] = {
            "observedGeneration": w["metadata"]["generation"],
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
        }
        status |= conditions_
        resp = api.patch(
            f"/apis/apps/v1/namespaces/{ns}/{w['plural']}/{w['metadata']['name']}/status",
            json={"status": status},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert resp.status_code == 200, resp.text


def test_a_cluster_gets_its_objects_and_conditions(api: httpx.Client, operator: Any) -> None:
    ns = namespace(api, "party-9999")
    cr = example(ns)
    assert apply(api, cr).status_code in (200, 201)
    path = f"{CRS.format(ns=ns)}/{cr['metadata']['name']}"

    got = wait_for("status conditions", lambda: condition(get(api, path), "Progressing") and get(api, path))
    uid = got["metadata"]["uid"]
    assert got["status"]["observedGeneration"] == 1
    assert condition(got, "Progressing")["status"] == "True"
    assert condition(got, "Progressing")["reason"] == "Deploying"
    assert condition(got, "Ready")["status"] == "False"
    assert condition(got, "Ready")["reason"] == "WorkloadsNotAvailable"
    assert condition(got, "Degraded")["status"] == "False"

    names = {(w["plural"], w["metadata"]["name"]) for w in workloads(api, ns)}
    assert names == {
        ("deployments", "bank-a-router"),
        ("deployments", "bank-a-cluster-manager"),
        ("deployments", "bank-a-flow"),
        ("statefulsets", "bank-a-node-manager"),
    }
    for plural, api_path in [("services", "/api/v1"), ("configmaps", "/api/v1"), ("secrets", "/api/v1")]:
        items = get(
            api, f"{api_path}/namespaces/{ns}/{plural}?labelSelector=app.kubernetes.io/instance=bank-a"
        )
        assert items["items"], plural
        for item in items["items"]:
            (owner,) = item["metadata"]["ownerReferences"]
            assert (owner["kind"], owner["uid"], owner["controller"]) == ("SilobridgeCluster", uid, True)
    nodes = get(api, f"/apis/apps/v1/namespaces/{ns}/statefulsets/bank-a-node-manager")
    assert nodes["spec"]["replicas"] == 2
    router = get(api, f"/apis/apps/v1/namespaces/{ns}/deployments/bank-a-router")
    env = {e["name"]: e for e in router["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["SILOBRIDGE_PARTY_ID"]["value"] == "9999"
    assert "value" not in env["SILOBRIDGE_BUS_URL"], "the bus URL (with its password) is in a Secret"
    routes = get(api, f"/api/v1/namespaces/{ns}/configmaps/bank-a-routes")
    table = yaml.safe_load(routes["data"]["routes.yaml"])
    assert table["self"] == 9999 and set(table["routes"]) == {10000, 10001}

    # the pods come up: every workload reports its replicas updated and available
    play_controller(api, ns)
    ready = wait_for(
        "Ready", lambda: condition(get(api, path), "Ready").get("status") == "True" and get(api, path)
    )
    assert condition(ready, "Progressing")["status"] == "False"
    assert ready["status"]["version"] == "0.1.0"
    assert ready["status"]["phase"] == "Ready"

    # a version bump rolls every workload to the new image
    cr["spec"]["images"] = {"tag": "0.2.0"}
    assert apply(api, cr).status_code == 200

    def rolling() -> Any:
        now = get(api, path)
        return (
            now["status"].get("observedGeneration") == 2
            and condition(now, "Progressing")["status"] == "True"
            and now
        )

    upgrading = wait_for("the rolling update", rolling)
    assert condition(upgrading, "Progressing")["reason"] == "RollingUpdate"
    assert upgrading["status"]["version"] == "0.1.0"
    assert upgrading["status"]["targetVersion"] == "0.2.0"
    for w in workloads(api, ns):
        assert w["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":0.2.0"), w["metadata"][
            "name"
        ]

    # the rollout never finishes: the deployment controller gives up at the progress deadline
    stuck = {
        "type": "Progressing",
        "status": "False",
        "reason": "ProgressDeadlineExceeded",
        "message": "ReplicaSet has timed out progressing",
    }
    play_controller(api, ns, updatedReplicas=0, availableReplicas=1, readyReplicas=1, conditions=[stuck])

    def degraded() -> Any:
        now = get(api, path)
        return condition(now, "Degraded").get("status") == "True" and now

    failed = wait_for("Degraded", degraded)
    assert condition(failed, "Degraded")["reason"] == "UpgradeFailed"
    assert "0.1.0 -> 0.2.0" in condition(failed, "Degraded")["message"]
    assert failed["status"]["version"] == "0.1.0", "the version that runs is still the old one"


def test_an_invalid_spec_is_reported_and_applies_nothing(api: httpx.Client, operator: Any) -> None:
    ns = namespace(api, "party-bad")
    cr = example(ns)
    cr["metadata"]["name"] = "bad"
    cr["spec"]["ray"] = {"head": False}  # nodes.compute is ray: a Ray cluster is needed
    assert apply(api, cr).status_code in (200, 201)
    path = f"{CRS.format(ns=ns)}/bad"
    bad = wait_for(
        "Degraded", lambda: condition(get(api, path), "Degraded").get("status") == "True" and get(api, path)
    )
    assert condition(bad, "Degraded")["reason"] == "InvalidSpec"
    assert "ray.address" in condition(bad, "Degraded")["message"]
    assert workloads(api, ns) == []
