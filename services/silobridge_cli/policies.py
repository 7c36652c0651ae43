"""Policies a driver installs at the parties it starts: exactly one job's components and tables.

``policy_for_job`` is what ``make demo`` gives each non-initiating party: the initiator may run
the job's components in this party's role(s), on the tables the job names for this party, for
at most the job's epochs. A production party writes its own policy (docs/jobs.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from silobridge.errors import PermanentError
from silobridge_cli.credentials import auth_headers
from silobridge_cli.deploy.yamlio import dump_yaml

TABLE_INPUT = "table:"
# Every peer may run everything on every table: for test fixtures and throwaway demos only.
ALLOW_ALL: dict[str, Any] = {"default": "deny", "peers": {"*": {"components": "*", "tables": ["*"]}}}


def _roles_of(job: Mapping[str, Any], party: int) -> list[str]:
    return [role for role, ids in job["parties"].items() if party in [int(i) for i in ids]]


def initiator_of(job: Mapping[str, Any], default: int) -> int:
    return int((job.get("initiator") or {}).get("party_id", default))


def policy_for_job(job: Mapping[str, Any], party: int, initiator: int) -> dict[str, Any]:
    """A policy letting ``initiator`` run ``job`` (a job YAML document) at ``party``, and nothing else."""
    roles = _roles_of(job, party)
    components: dict[str, list[str]] = {}
    tables: set[str] = set()
    epochs = 0
    for comp in job["components"]:
        components.setdefault(comp["component"], [])
        components[comp["component"]] = sorted(set(components[comp["component"]]) | set(roles))
        layers = [comp.get("params") or {}]
        for key, params in (comp.get("role_params") or {}).items():
            role, _, pid = str(key).partition(":")
            if role in roles and (not pid or int(pid) == party):
                layers.append(params or {})
        for params in layers:
            if isinstance(params.get("table"), str):
                tables.add(params["table"])
            epochs = max(epochs, int(params.get("epochs", 0)))
        tables |= {
            ref.removeprefix(TABLE_INPUT)
            for ref in (comp.get("inputs") or {}).values()
            if ref.startswith(TABLE_INPUT)
        }
    rule: dict[str, Any] = {"action": "allow", "components": components, "tables": sorted(tables)}
    if epochs:
        rule["max_epochs"] = epochs
    return {"default": "deny", "peers": {initiator: rule}}


def install_policy(flow_url: str, policy: Mapping[str, Any], *, token: str | None = None) -> None:
    """``PUT /v1/policy`` at a flow (admin token)."""
    resp = httpx.put(
        f"{flow_url}/v1/policy",
        content=dump_yaml(dict(policy)),
        headers={"content-type": "application/yaml", **auth_headers(flow_url, token)},
        timeout=30,
    )
    if resp.status_code >= 400:
        raise PermanentError(f"PUT /v1/policy at {flow_url}: {resp.status_code} {resp.text[:300]}")
