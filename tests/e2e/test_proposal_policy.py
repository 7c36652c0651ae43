"""Trust at real single-process parties: flow's API wants a token, and the host's policy decides
a peer's proposal before anything runs (refuse by default, or hold for an operator)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml
from jobs import wait_until
from malformed_support import small_split
from parties import InProcessParties

from silobridge_cli.credentials import auth_headers
from silobridge_cli.demo import upload
from silobridge_cli.main import main as cli_main
from silobridge_cli.policies import ALLOW_ALL, install_policy

pytestmark = [pytest.mark.slow]

NS = "trust"
FINAL = {"SUCCEEDED", "FAILED", "STOPPED", "REFUSED"}


def extraction(job_id: str, host_table: str) -> dict[str, Any]:
    """The one-row extraction: reader -> psi -> column_stats on the host's table."""
    return {
        "job_id": job_id,
        "initiator": {"role": "guest", "party_id": 9999},
        "parties": {"guest": [9999], "host": [10000]},
        "components": [
            {
                "name": "reader_0",
                "component": "reader",
                "role_params": {"guest": {"table": f"{NS}.guest"}, "host": {"table": host_table}},
            },
            {"name": "psi_0", "component": "psi", "inputs": {"data": "reader_0.data"}},
            {"name": "stats_0", "component": "column_stats", "inputs": {"data": "psi_0.data"}},
        ],
    }


def psi_job(job_id: str) -> dict[str, Any]:
    job = extraction(job_id, f"{NS}.host")
    job["components"] = job["components"][:2]
    return job


def post(url: str, job: dict[str, Any], **kw: Any) -> httpx.Response:
    headers = kw.pop("headers", auth_headers(url))
    return httpx.post(f"{url}/v1/jobs", content=yaml.safe_dump(job), headers=headers, timeout=30)


def detail(url: str, job_id: str) -> dict[str, Any]:
    resp = httpx.get(f"{url}/v1/jobs/{job_id}", headers=auth_headers(url), timeout=30)
    return dict(resp.json()) if resp.status_code == 200 else {"state": "UNKNOWN", "tasks": []}


def final(url: str, job_id: str) -> dict[str, Any]:
    return dict(
        wait_until(lambda: (d := detail(url, job_id))["state"] in FINAL and d, what=f"{job_id} final")
    )


@pytest.fixture(scope="module")
def tables(parties: InProcessParties) -> Iterator[InProcessParties]:
    split = small_split(60)
    upload(parties.flow("guest"), split.guest_csv, namespace=NS, name="guest", label_column="y")
    upload(parties.flow("host"), split.host_csv, namespace=NS, name="host")
    yield parties
    install_policy(parties.flow("host"), ALLOW_ALL)


def test_flow_refuses_calls_without_a_valid_token(tables: InProcessParties) -> None:
    url = tables.flow("guest")
    before = httpx.get(f"{url}/v1/jobs", headers=auth_headers(url)).json()["jobs"]
    for headers, message in [
        ({}, "missing bearer token"),
        ({"Authorization": "Bearer nope"}, "unknown bearer token"),
    ]:
        r = post(url, psi_job("unauthenticated"), headers=headers)
        assert r.status_code == 401 and message in r.json()["error"]["message"]
    assert httpx.get(f"{url}/v1/jobs", headers=auth_headers(url)).json()["jobs"] == before
    assert httpx.get(f"{url}/healthz").status_code == 200


def test_default_policy_refuses_the_extraction_alike_for_any_table(tables: InProcessParties) -> None:
    guest, host = tables.flow("guest"), tables.flow("host")
    install_policy(host, {"default": "deny"})
    assert post(guest, extraction("steal_real", f"{NS}.host")).status_code == 201
    assert post(guest, extraction("steal_ghost", f"{NS}.ghost")).status_code == 201
    real, ghost = final(guest, "steal_real"), final(guest, "steal_ghost")
    assert real["state"] == ghost["state"] == "REFUSED"
    assert (
        real["message"]
        == ghost["message"]
        == ("refused by party 10000: the policy of party 10000 does not accept jobs from party 9999")
    )
    assert all(t["state"] == "WAITING" for t in detail(host, "steal_real")["tasks"])


def test_a_held_proposal_runs_after_approve_and_refuse_ends_another(
    tables: InProcessParties, capsys: pytest.CaptureFixture[str]
) -> None:
    guest, host = tables.flow("guest"), tables.flow("host")
    install_policy(host, {"default": "hold"})
    assert post(guest, psi_job("held_ok")).status_code == 201
    assert post(guest, psi_job("held_no")).status_code == 201
    token = tables.token("host")
    assert token is not None
    assert cli_main(["job", "pending", "--flow", host, "--token", token]) == 0
    wait_until(
        lambda: "held_no" in httpx.get(f"{host}/v1/approvals", headers=auth_headers(host)).text, what="held"
    )
    time.sleep(1.5)  # nothing runs while held
    assert detail(guest, "held_ok")["state"] == "PROPOSED"
    assert {p["party_id"]: p["state"] for p in detail(guest, "held_ok")["parties"]}[10000] == "HELD"
    assert all(t["state"] == "WAITING" for t in detail(host, "held_ok")["tasks"])
    capsys.readouterr()

    assert cli_main(["job", "approve", "held_ok", "--flow", host, "--token", token]) == 0
    assert capsys.readouterr().out.strip() == "job held_ok: ACCEPTED"
    assert final(guest, "held_ok")["state"] == "SUCCEEDED"
    assert (
        cli_main(["job", "refuse", "held_no", "--reason", "not now", "--flow", host, "--token", token]) == 0
    )
    assert final(guest, "held_no")["message"] == (
        "refused by party 10000: refused by an operator at party 10000: not now"
    )
    audit = httpx.get(f"{host}/v1/audit", headers=auth_headers(host)).json()["audit"]
    decisions = {(a["job_id"], a["action"]) for a in audit if a["job_id"].startswith("held")}
    assert decisions == {
        ("held_ok", "hold"),
        ("held_ok", "approve"),
        ("held_no", "hold"),
        ("held_no", "refuse"),
    }
