"""SilobridgePeer on a real API server: a partner's route and CA appear in the party's routes
ConfigMap without any pod template changing, go when the peer is deleted, and a bad CA is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from envtest import REPO
from kubetest import apply, namespace, wait_for

from silobridge import pki

pytestmark = [pytest.mark.kube, pytest.mark.slow]
NS = "party-9999-peers"
PEERS = f"/apis/silobridge.io/v1alpha1/namespaces/{NS}/silobridgepeers"


def routes(api: httpx.Client) -> dict[str, Any]:
    resp = api.get(f"/api/v1/namespaces/{NS}/configmaps/bank-a-routes")
    return dict(resp.json()["data"]) if resp.status_code == 200 else {}


def templates(api: httpx.Client) -> dict[str, Any]:
    items = api.get(f"/apis/apps/v1/namespaces/{NS}/deployments").json()["items"]
    return {d["metadata"]["name"]: (d["metadata"]["generation"], d["spec"]["template"]) for d in items}


def peer(name: str, party: int, ca: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"clusterRef": {"name": "bank-a"}, "partyId": party, "host": f"fl.{name}.example"}
    if ca is not None:
        spec["trust"] = {"caCert": ca}
    return {
        "apiVersion": "silobridge.io/v1alpha1",
        "kind": "SilobridgePeer",
        "metadata": {"name": name, "namespace": NS},
        "spec": spec,
    }


def ready(api: httpx.Client, name: str) -> dict[str, Any]:
    got = api.get(f"{PEERS}/{name}").json()
    return next((c for c in (got.get("status") or {}).get("conditions") or [] if c["type"] == "Ready"), {})


@pytest.fixture(scope="module")
def cluster(api: httpx.Client, operator: Any) -> None:
    namespace(api, NS)
    cr = yaml.safe_load((REPO / "deploy/operator/examples/silobridgecluster-9999.yaml").read_text())
    cr["metadata"]["namespace"] = NS
    assert apply(api, cr).status_code in (200, 201)
    wait_for("the routes ConfigMap", lambda: routes(api))
    wait_for("the deployments", lambda: len(templates(api)) == 3)


def test_a_peer_is_routed_without_rolling_pods_and_removed_on_delete(
    api: httpx.Client, cluster: None, tmp_path: Path
) -> None:
    before = templates(api)

    pki.ensure_pki(tmp_path / "partner", [10002])
    ca = (tmp_path / "partner" / "ca.crt").read_text()
    assert apply(api, peer("partner", 10002, ca)).status_code in (200, 201)

    def routed() -> Any:
        table = yaml.safe_load(routes(api).get("routes.yaml") or "{}")
        return 10002 in (table.get("routes") or {}) and table

    table = wait_for("the new route", routed)
    assert table["routes"][10002] == {"host": "fl.partner.example", "port": 9370}
    assert set(table["routes"]) == {10000, 10001, 10002}
    assert routes(api)["peers-ca.crt"].strip() == ca.strip()
    assert wait_for("the peer's Ready", lambda: ready(api, "partner").get("status") == "True")
    assert templates(api) == before, "adding a peer must not change any pod template (no restart)"

    assert api.delete(f"{PEERS}/partner").status_code == 200
    wait_for("the peer to go", lambda: api.get(f"{PEERS}/partner").status_code == 404)
    table = yaml.safe_load(routes(api)["routes.yaml"])
    assert set(table["routes"]) == {10000, 10001}
    assert routes(api)["peers-ca.crt"] == ""


def test_a_peer_with_a_bad_ca_is_left_out(api: httpx.Client, cluster: None, tmp_path: Path) -> None:
    pki.ensure_pki(tmp_path / "p", [10003])
    leaf = (tmp_path / "p" / "party-10003.crt").read_text()  # a party certificate is no CA
    assert apply(api, peer("not-a-ca", 10003, leaf)).status_code in (200, 201)
    cond = wait_for(
        "the peer's verdict", lambda: ready(api, "not-a-ca").get("status") and ready(api, "not-a-ca")
    )
    assert cond["status"] == "False" and cond["reason"] == "InvalidSpec"
    assert "not a CA certificate" in cond["message"]
    table = yaml.safe_load(routes(api)["routes.yaml"])
    assert 10003 not in table["routes"]
    assert api.delete(f"{PEERS}/not-a-ca").status_code == 200
