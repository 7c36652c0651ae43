"""SilobridgeJob: submit the job to its party's flow, mirror it into status, stop it on delete.

The job YAML is the CR's spec less the operator's own fields (clusterRef, flowUrl, credentials).
Its id is the spec's ``job_id`` or one derived from the CR's uid, so a submission retried after a
lost reply finds the job it already made (flow answers 409) instead of starting a second one.
The bearer token comes from the Secret the spec names; it never enters the CR or its status.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import httpx
import kopf
import yaml

from silobridge_operator import objects
from silobridge_operator.context import API_VERSION, OperatorContext, kopf_error
from silobridge_operator.kube import KubeError

JOB_KIND = "SilobridgeJob"
FINAL = frozenset({"SUCCEEDED", "FAILED", "STOPPED", "REFUSED"})
OPERATOR_FIELDS = ("clusterRef", "flowUrl", "credentials")
MAX_METRICS = 32


def job_id_of(body: Any) -> str:
    spec = body.get("spec") or {}
    if spec.get("job_id"):
        return str(spec["job_id"])
    name = re.sub(r"[^A-Za-z0-9_-]", "-", body["metadata"]["name"])[:48]
    return f"{name}-{body['metadata']['uid'].replace('-', '')[:12]}"


def job_yaml(body: Any) -> str:
    spec = {k: v for k, v in dict(body["spec"]).items() if k not in OPERATOR_FIELDS}
    spec["job_id"] = job_id_of(body)
    return yaml.safe_dump(spec, sort_keys=False)


async def flow_url(ctx: OperatorContext, body: Any) -> str:
    spec, ns = body["spec"], body["metadata"]["namespace"]
    if spec.get("flowUrl"):
        return str(spec["flowUrl"]).rstrip("/")
    ref = (spec.get("clusterRef") or {}).get("name")
    try:
        clusters = await ctx.kube.list(API_VERSION, "SilobridgeCluster", ns)
    except KubeError as exc:
        raise kopf_error(exc) from None
    chosen = [c for c in clusters if c["metadata"]["name"] == ref] if ref else clusters
    if len(chosen) != 1:
        what = (
            f"no SilobridgeCluster {ref!r}"
            if ref
            else f"{len(chosen)} SilobridgeClusters (name one in clusterRef)"
        )
        raise kopf.TemporaryError(f"{what} in namespace {ns}", delay=10)
    cluster = chosen[0]
    spec_ = objects.parse_spec(
        dict(cluster["spec"]), source=f"SilobridgeCluster {ns}/{cluster['metadata']['name']}"
    )
    return objects.flow_url(cluster["metadata"]["name"], ns, spec_)


async def token(ctx: OperatorContext, body: Any) -> str:
    creds = body["spec"].get("credentials") or {}
    name, key = str(creds.get("secretName") or ""), str(creds.get("key") or "token")
    if not name:
        raise kopf.PermanentError("spec.credentials.secretName: name the Secret holding the flow token")
    ns = body["metadata"]["namespace"]
    try:
        secret = await ctx.kube.get("v1", "Secret", ns, name)
    except KubeError as exc:
        raise kopf_error(exc) from None
    if secret is None:
        raise kopf.TemporaryError(f"no Secret {ns}/{name} with the flow token", delay=10)
    raw = (secret.get("data") or {}).get(key)
    if not raw:
        raise kopf.TemporaryError(f"Secret {ns}/{name} has no key {key!r}", delay=10)
    return base64.b64decode(raw).decode().strip()


async def _flow(
    ctx: OperatorContext, body: Any, method: str, path: str, *, content: bytes | None = None
) -> httpx.Response:
    url = await flow_url(ctx, body)
    headers = {"Authorization": f"Bearer {await token(ctx, body)}"}
    if content is not None:
        headers["Content-Type"] = "application/yaml"
    try:
        async with httpx.AsyncClient(timeout=ctx.settings.flow_timeout_s) as http:
            resp = await http.request(method, url + path, headers=headers, content=content)
    except httpx.HTTPError as exc:
        raise kopf.TemporaryError(f"flow at {url}: {exc}", delay=10) from None
    if resp.status_code >= 500 or resp.status_code == 429:
        raise kopf.TemporaryError(f"flow at {url}: {resp.status_code} {resp.text[:500]}", delay=10)
    return resp


def _error(resp: httpx.Response) -> str:
    try:
        body = resp.json()
        return str(body.get("error", {}).get("message") or body)[:1024]
    except ValueError:
        return resp.text[:1024]


async def submit(ctx: OperatorContext, body: Any, patch: kopf.Patch, logger: Any) -> None:
    if (body.get("status") or {}).get("jobId"):
        return  # already submitted (a resumed operator)
    job_id = job_id_of(body)
    resp = await _flow(
        ctx,
        body,
        "POST",
        "/v1/jobs",
        content=job_yaml(body).encode(),
    )
    if resp.status_code == 409:
        logger.info("job %s exists at flow already: following it", job_id)
    elif resp.status_code >= 400:
        patch.status.update({"jobId": job_id, "state": "REFUSED", "message": _error(resp)})
        raise kopf.PermanentError(f"flow refused the job: {_error(resp)}")
    patch.status.update(
        {
            "jobId": job_id,
            "state": resp.json().get("state", "PROPOSED") if resp.status_code < 300 else "PROPOSED",
            "message": "",
        }
    )


def job_status(detail: dict[str, Any], generation: int) -> dict[str, Any]:
    """Status of the CR from flow's job detail: this party's tasks, progress and last metrics."""
    party = detail.get("party_id")
    mine = [t for t in detail.get("tasks") or [] if t.get("party_id") == party]
    done = sum(1 for t in mine if t.get("state") == "SUCCEEDED")
    metrics: dict[str, float] = {}
    for t in mine:
        for name, value in (t.get("metrics") or {}).items():
            if len(metrics) < MAX_METRICS and isinstance(value, int | float):
                metrics[f"{t['name']}.{name}"] = float(value)
    return {
        "jobId": detail["job_id"],
        "state": detail["state"],
        "message": str(detail.get("message") or "")[:1024],
        "progress": f"{done}/{len(mine)} tasks",
        "tasks": [
            {
                "name": t["name"],
                "state": t["state"],
                "progress": float(t.get("progress") or 0.0),
                "message": str(t.get("message") or "")[:256],
            }
            for t in mine
        ],
        "metrics": {k: str(v) for k, v in metrics.items()},
        "observedGeneration": generation,
    }


def live_job_id(body: Any) -> str | None:
    """The flow job of this CR while it has not ended, else None."""
    status = body.get("status") or {}
    job_id = status.get("jobId")
    return None if not job_id or status.get("state") in FINAL else str(job_id)


async def poll(ctx: OperatorContext, body: Any, patch: kopf.Patch) -> None:
    job_id = live_job_id(body)
    if job_id is None:
        return
    status = body.get("status") or {}
    resp = await _flow(ctx, body, "GET", f"/v1/jobs/{job_id}")
    if resp.status_code == 404:
        patch.status.update({"state": "FAILED", "message": f"flow has no job {job_id}"})
        return
    if resp.status_code >= 400:
        raise kopf.TemporaryError(f"reading job {job_id}: {_error(resp)}", delay=10)
    new = job_status(resp.json(), int(body["metadata"].get("generation", 1)))
    if any(status.get(k) != v for k, v in new.items()):
        patch.status.update(new)


async def stop(ctx: OperatorContext, body: Any, logger: Any) -> None:
    """Finalizer: a job that has not ended is stopped at flow before the CR goes."""
    job_id = live_job_id(body)
    if job_id is None:
        return
    resp = await _flow(ctx, body, "POST", f"/v1/jobs/{job_id}/stop")
    if resp.status_code == 404:
        return
    if resp.status_code >= 400 and resp.status_code != 409:
        raise kopf.TemporaryError(f"stopping job {job_id}: {_error(resp)}", delay=10)
    logger.info("stopped job %s at flow", job_id)
