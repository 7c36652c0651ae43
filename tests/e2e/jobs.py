"""Job YAML and data of the end-to-end tests (the demo's job with small keys for speed)."""

from __future__ import annotations

import copy
import time
from typing import Any

import httpx
import pytest
import yaml

from silobridge_cli import credentials
from silobridge_cli.demo import _check, follow_job, load_config
from silobridge_cli.policies import ALLOW_ALL, install_policy

KEY_BITS = 1024


def vertical_job(**hetero_lr: Any) -> dict[str, Any]:
    job: dict[str, Any] = copy.deepcopy(load_config("breast_cancer")["job"])
    for c in job["components"]:
        if c["component"] == "hetero_lr":
            c["params"].update({"key_bits": KEY_BITS, "seed": 11, **hetero_lr})
    return job


_ALLOWED: set[str] = set()


def allow_everywhere(job: dict[str, Any]) -> None:
    """Give every other party of ``job`` started in this process (in-process parties, ``launch``)
    a policy that lets any peer run anything, once per flow: the tests of other behaviour then run
    as before authentication and policies existed."""
    for url, pid in credentials.known_flows().items():
        if url not in _ALLOWED and any(pid in ids for ids in job["parties"].values()):
            install_policy(url, ALLOW_ALL)
            _ALLOWED.add(url)


def submit(flow_url: str, job: dict[str, Any]) -> str:
    """Submit at a party's flow (with its admin token); returns the job id."""
    allow_everywhere(job)
    resp = httpx.post(
        f"{flow_url}/v1/jobs",
        content=yaml.safe_dump(job, sort_keys=False),
        headers=credentials.auth_headers(flow_url),
        timeout=30,
    )
    return str(_check(resp)["job_id"])


def wait(flow_url: str, job_id: str, timeout_s: float = 240) -> dict[str, Any]:
    """Follow a job to its end; returns its detail."""
    return follow_job(flow_url, job_id, timeout_s, out=lambda _: None)


def job_detail(flow_url: str, job_id: str) -> dict[str, Any]:
    resp = httpx.get(f"{flow_url}/v1/jobs/{job_id}", headers=credentials.auth_headers(flow_url), timeout=30)
    resp.raise_for_status()
    return dict(resp.json())


def model(flow_url: str, job_id: str, task: str) -> dict[str, Any]:
    """The party's own model of one task, decoded."""
    from silobridge.federation import codec

    resp = httpx.get(
        f"{flow_url}/v1/jobs/{job_id}/models/{task}", headers=credentials.auth_headers(flow_url), timeout=30
    )
    resp.raise_for_status()
    return dict(codec.from_bytes(resp.content))


def submit_and_wait(flow_url: str, job: dict[str, Any], timeout_s: float = 240) -> dict[str, Any]:
    return wait(flow_url, submit(flow_url, job), timeout_s)


def task_summary(job: dict[str, Any], task: str, role: str = "guest") -> dict[str, float]:
    return next(t["summary"] for t in job["tasks"] if t["name"] == task and t["role"] == role)


def wait_until(check: Any, timeout_s: float = 60, what: str = "") -> Any:
    """Poll ``check`` until it returns something true (returned), or fail the test naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout_s:g}s waiting for {what}")
