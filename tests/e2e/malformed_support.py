"""Helpers of the malformed-input tests: small tables, jobs that read them, and a bounded wait
until every party's flow shows the job in a final state."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
import yaml
from jobs import vertical_job
from parties import InProcessParties

from silobridge_cli import demo_data
from silobridge_cli.credentials import auth_headers

FINAL = frozenset({"SUCCEEDED", "FAILED", "STOPPED", "REFUSED"})
ROLES = ("guest", "host", "arbiter")
NAMESPACE = "malformed"


@dataclass
class PartyView:
    """One party's answer to ``GET /v1/jobs/{id}``: its job state and every message it shows."""

    role: str
    state: str
    message: str
    task_messages: list[str]

    def text(self) -> str:
        """Everything a user reads at this party about why the job ended."""
        return " | ".join([self.message, *self.task_messages])


def small_split(rows: int = 120, *, id_prefix: str = "id") -> demo_data.VerticalSplit:
    x, y = demo_data.load("breast_cancer")
    return demo_data.split(x[:rows], y[:rows], 10, id_prefix=id_prefix)


def job_reading(guest_table: str, host_table: str, **hetero_lr: Any) -> dict[str, Any]:
    """The demo job (``reader -> psi -> hetero_lr -> evaluation``) on the given tables."""
    job = vertical_job(epochs=1, **hetero_lr)
    for c in job["components"]:
        if c["component"] == "reader":
            c["role_params"]["guest"]["table"] = f"{NAMESPACE}.{guest_table}"
            c["role_params"]["host"]["table"] = f"{NAMESPACE}.{host_table}"
    return job


def post_job(flow_url: str, job: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        f"{flow_url}/v1/jobs",
        content=yaml.safe_dump(job, sort_keys=False),
        headers=auth_headers(flow_url),
        timeout=30,
    )


def submit(flow_url: str, job: dict[str, Any]) -> str:
    resp = post_job(flow_url, job)
    assert resp.status_code == 201, resp.text
    return str(resp.json()["job_id"])


def wait_everywhere(parties: InProcessParties, job_id: str, timeout_s: float = 60) -> dict[str, PartyView]:
    """Poll every party until its flow shows the job final; a party still busy at the deadline
    is reported with the state it is stuck in (the test then fails on that state)."""
    deadline = time.monotonic() + timeout_s
    views: dict[str, PartyView] = {}
    while True:
        for role in ROLES:
            if role in views and views[role].state in FINAL:
                continue
            url = parties.flow(role)
            resp = httpx.get(f"{url}/v1/jobs/{job_id}", headers=auth_headers(url), timeout=30)
            if resp.status_code == 404:  # the proposal has not reached this party yet
                views[role] = PartyView(role, "UNKNOWN", resp.text, [])
                continue
            resp.raise_for_status()
            detail = resp.json()
            views[role] = PartyView(
                role,
                detail["state"],
                detail.get("message", ""),
                [t["message"] for t in detail["tasks"] if t.get("message")],
            )
        if all(v.state in FINAL for v in views.values()) or time.monotonic() > deadline:
            return views
        time.sleep(0.3)


def table_names(flow_url: str) -> set[str]:
    resp = httpx.get(
        f"{flow_url}/v1/tables", params={"namespace": NAMESPACE}, headers=auth_headers(flow_url), timeout=30
    )
    resp.raise_for_status()
    return {t["name"] for t in resp.json()["tables"]}
