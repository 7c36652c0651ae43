"""The operator's own manifests on the real API server: accepted, and its RBAC allows exactly
what the handlers do (asked of the API server's authorizer with SubjectAccessReviews)."""

from __future__ import annotations

import httpx
import pytest
import yaml
from envtest import REPO
from kubetest import apply

pytestmark = [pytest.mark.kube, pytest.mark.slow]
MANIFESTS = REPO / "deploy" / "operator" / "manifests" / "operator.yaml"
SA = "system:serviceaccount:silobridge-system:silobridge-operator"
NEEDED = [  # (group, resource, verb) the operator calls
    ("silobridge.io", "silobridgeclusters", "watch"),
    ("silobridge.io", "silobridgejobs", "patch"),
    ("silobridge.io", "silobridgepeers", "list"),
    ("silobridge.io", "silobridgejobs/status", "patch"),
    ("", "configmaps", "patch"),
    ("", "services", "patch"),
    ("", "secrets", "get"),
    ("", "secrets", "patch"),
    ("apps", "deployments", "patch"),
    ("apps", "statefulsets", "list"),
    ("", "events", "create"),
]
NOT_NEEDED = [
    ("", "pods", "create"),
    ("rbac.authorization.k8s.io", "clusterroles", "create"),
    ("", "nodes", "delete"),
]


def allowed(api: httpx.Client, group: str, resource: str, verb: str) -> bool:
    sub, _, sub_resource = resource.partition("/")
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": SA,
            "groups": [
                "system:serviceaccounts",
                "system:serviceaccounts:silobridge-system",
                "system:authenticated",
            ],
            "resourceAttributes": {
                "group": group,
                "resource": sub,
                "subresource": sub_resource,
                "verb": verb,
                "namespace": "party-9999",
            },
        },
    }
    resp = api.post("/apis/authorization.k8s.io/v1/subjectaccessreviews", json=review)
    assert resp.status_code == 201, resp.text
    return bool(resp.json()["status"].get("allowed"))


def test_manifests_apply_and_rbac_covers_the_handlers(api: httpx.Client, crds: list[str]) -> None:
    for doc in yaml.safe_load_all(MANIFESTS.read_text()):
        resp = apply(api, doc)
        assert resp.status_code in (200, 201), (doc["kind"], resp.text)
    assert [n for n in NEEDED if not allowed(api, *n)] == []
    assert [n for n in NOT_NEEDED if allowed(api, *n)] == []
