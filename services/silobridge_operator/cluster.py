"""SilobridgeCluster: apply one party's objects, then judge their rollout into status conditions.

A spec change (a version bump among them) re-applies every object with server-side apply; the
Deployments and StatefulSet then roll their pods one at a time (maxUnavailable 0). A timer reads
the workloads back and keeps Ready/Progressing/Degraded current, so a rollout that stalls past its
progress deadline shows up as Degraded/UpgradeFailed, with the previous version still in status.
"""

from __future__ import annotations

from typing import Any

import kopf

from silobridge.errors import InvalidInput
from silobridge_cli.deploy.spec import ClusterSpec
from silobridge_operator import conditions, objects
from silobridge_operator.context import API_VERSION, OperatorContext, kopf_error, owner_reference
from silobridge_operator.kube import KubeError
from silobridge_operator.peer import peers_of, trust_bundle

CLUSTER_KIND = "SilobridgeCluster"


async def apply_routes(ctx: OperatorContext, cluster: dict[str, Any], spec: ClusterSpec) -> dict[str, Any]:
    """The routes ConfigMap from the spec and every SilobridgePeer of this cluster."""
    name, ns = cluster["metadata"]["name"], cluster["metadata"]["namespace"]
    peers = await peers_of(ctx, ns, name)
    cm = objects.routes_config_map(name, ns, spec, [p["spec"] for p in peers], trust_bundle(peers))
    cm["metadata"]["ownerReferences"] = [owner_reference(cluster)]
    return await ctx.kube.apply(cm)


async def reconcile(ctx: OperatorContext, body: Any, patch: kopf.Patch, logger: Any) -> None:
    name, ns = body["metadata"]["name"], body["metadata"]["namespace"]
    generation = int(body["metadata"].get("generation", 1))
    previous = dict(body.get("status") or {})
    try:
        spec = objects.parse_spec(dict(body["spec"]), source=f"{CLUSTER_KIND} {ns}/{name}")
    except InvalidInput as exc:
        logger.error("invalid spec: %s", exc)
        patch.status.update(conditions.invalid_spec_status(previous, str(exc), generation))
        return  # nothing applied: a bad spec leaves the running party as it was
    cluster = dict(body)
    try:
        for obj in objects.party_objects(name, ns, spec):
            obj["metadata"]["ownerReferences"] = [owner_reference(cluster)]
            await ctx.kube.apply(obj)
        await apply_routes(ctx, cluster, spec)
    except KubeError as exc:
        raise kopf_error(exc) from None
    status = await judged_status(ctx, name, ns, spec, previous, generation)
    status["routerEndpoint"] = (
        f"{spec.section('router')['public_host'] or objects.names(name)['router']}:{spec.section('router')['port']}"
    )
    patch.status.update(status)


async def judged_status(
    ctx: OperatorContext, name: str, ns: str, spec: ClusterSpec, previous: dict[str, Any], generation: int
) -> dict[str, Any]:
    selector = f"app.kubernetes.io/instance={name},app.kubernetes.io/managed-by=silobridge-operator"
    try:
        workloads = [
            {**w, "kind": kind}
            for kind in ("Deployment", "StatefulSet")
            for w in await ctx.kube.list("apps/v1", kind, ns, labelSelector=selector)
        ]
    except KubeError as exc:
        raise kopf_error(exc) from None
    judgement = conditions.judge(workloads)
    return conditions.cluster_status(
        previous, judgement, generation=generation, target_version=objects.version(spec)
    )


async def refresh(ctx: OperatorContext, body: Any, patch: kopf.Patch) -> None:
    """Timer: re-judge the workloads of an already reconciled cluster."""
    previous = dict(body.get("status") or {})
    generation = int(body["metadata"].get("generation", 1))
    if previous.get("observedGeneration") != generation or previous.get("phase") == "Failed":
        return  # the change handler has not run for this generation yet, or the spec is invalid
    name, ns = body["metadata"]["name"], body["metadata"]["namespace"]
    try:
        spec = objects.parse_spec(dict(body["spec"]), source=f"{CLUSTER_KIND} {ns}/{name}")
    except InvalidInput:
        return
    status = await judged_status(ctx, name, ns, spec, previous, generation)
    if _changed(previous, status):
        patch.status.update(status)


def _changed(previous: dict[str, Any], status: dict[str, Any]) -> bool:
    def essence(s: dict[str, Any]) -> Any:
        conds = [(c["type"], c["status"], c["reason"], c["message"]) for c in s.get("conditions") or []]
        return s.get("phase"), s.get("version"), conds

    return bool(essence(previous) != essence(status))


__all__ = ["API_VERSION", "CLUSTER_KIND", "apply_routes", "reconcile", "refresh"]
