"""Job YAML and data of the end-to-end tests (the demo's job with small keys for speed)."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import yaml

from silobridge_cli.demo import _check, follow_job, load_config

KEY_BITS = 1024


def vertical_job(**hetero_lr: Any) -> dict[str, Any]:
    job: dict[str, Any] = copy.deepcopy(load_config("breast_cancer")["job"])
    for c in job["components"]:
        if c["component"] == "hetero_lr":
            c["params"].update({"key_bits": KEY_BITS, "seed": 11, **hetero_lr})
    return job


def submit_and_wait(flow_url: str, job: dict[str, Any], timeout_s: float = 240) -> dict[str, Any]:
    resp = httpx.post(f"{flow_url}/v1/jobs", content=yaml.safe_dump(job, sort_keys=False), timeout=30)
    job_id = _check(resp)["job_id"]
    return follow_job(flow_url, job_id, timeout_s, out=lambda _: None)


def task_summary(job: dict[str, Any], task: str, role: str = "guest") -> dict[str, float]:
    return next(t["summary"] for t in job["tasks"] if t["name"] == task and t["role"] == role)
