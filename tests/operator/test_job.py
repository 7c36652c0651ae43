"""SilobridgeJob on a real API server, submitting to three single-process parties outside it:
the CR's status follows the job at the guest's flow, and deleting the CR stops the job."""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from jobs import job_detail, vertical_job
from kubetest import apply, namespace, wait_for
from parties import InProcessParties

from silobridge_cli import demo_data
from silobridge_cli.demo import upload

pytestmark = [pytest.mark.kube, pytest.mark.slow]
NS = "party-9999-jobs"
JOBS = f"/apis/silobridge.io/v1alpha1/namespaces/{NS}/silobridgejobs"


@pytest.fixture(scope="module")
def parties(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessParties]:
    p = InProcessParties(Path(tmp_path_factory.mktemp("parties")))
    try:
        p.start()
        x, y = demo_data.load("breast_cancer")
        split = demo_data.split(x, y, 10)
        upload(p.flow("guest"), split.guest_csv, namespace="demo", name="guest", label_column="y")
        upload(p.flow("host"), split.host_csv, namespace="demo", name="host")
        yield p
    finally:
        p.stop()


@pytest.fixture(scope="module")
def token_secret(api: httpx.Client, parties: InProcessParties) -> str:
    namespace(api, NS)
    token = parties.token("guest")
    assert token
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "guest-flow-token", "namespace": NS},
        "data": {"token": base64.b64encode(token.encode()).decode()},
    }
    assert apply(api, secret).status_code in (200, 201)
    return "guest-flow-token"


def job_cr(name: str, parties: InProcessParties, secret: str, job: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "silobridge.io/v1alpha1",
        "kind": "SilobridgeJob",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            **copy.deepcopy(job),
            "flowUrl": parties.flow("guest"),
            "credentials": {"secretName": secret},
        },
    }


def status(api: httpx.Client, name: str) -> dict[str, Any]:
    resp = api.get(f"{JOBS}/{name}")
    return dict(resp.json().get("status") or {}) if resp.status_code == 200 else {}


def test_job_status_follows_the_job_to_succeeded(
    api: httpx.Client, operator: Any, parties: InProcessParties, token_secret: str
) -> None:
    job = vertical_job(epochs=2)
    assert apply(api, job_cr("lr", parties, token_secret, job)).status_code in (200, 201)
    seen: set[str] = set()

    def ended() -> Any:
        st = status(api, "lr")
        if st.get("state"):
            seen.add(st["state"])
        return st.get("state") in ("SUCCEEDED", "FAILED", "STOPPED", "REFUSED") and st

    final = wait_for("the job to end", ended, timeout_s=400)
    assert final["state"] == "SUCCEEDED", final
    detail = job_detail(parties.flow("guest"), final["jobId"])
    assert detail["state"] == "SUCCEEDED"
    mine = [t["name"] for t in detail["tasks"] if t["party_id"] == 9999]
    assert final["progress"] == f"{len(mine)}/{len(mine)} tasks"
    assert {t["name"] for t in final["tasks"]} == set(mine)
    assert all(t["state"] == "SUCCEEDED" for t in final["tasks"])
    assert float(final["metrics"]["evaluation_0.auc"]) > 0.9
    assert seen & {"PROPOSED", "ACCEPTED", "RUNNING"}, seen


def test_deleting_the_resource_stops_the_job(
    api: httpx.Client, operator: Any, parties: InProcessParties, token_secret: str
) -> None:
    job = vertical_job(epochs=500)
    assert apply(api, job_cr("long", parties, token_secret, job)).status_code in (200, 201)
    running = wait_for(
        "the job to run", lambda: status(api, "long").get("state") == "RUNNING" and status(api, "long")
    )
    job_id = running["jobId"]
    cr = api.get(f"{JOBS}/long").json()
    assert "silobridge.io/operator" in cr["metadata"]["finalizers"]

    assert api.delete(f"{JOBS}/long").status_code == 200
    wait_for("the resource to go", lambda: api.get(f"{JOBS}/long").status_code == 404)
    detail = job_detail(parties.flow("guest"), job_id)
    assert detail["state"] == "STOPPED", detail["message"]
    for role in ("host", "arbiter"):
        wait_for(
            f"the {role} to stop", lambda r=role: job_detail(parties.flow(r), job_id)["state"] == "STOPPED"
        )
