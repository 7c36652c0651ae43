"""kopf handlers of the three resources, registered on one :class:`kopf.OperatorRegistry`.

``registry(settings)`` is what ``__main__`` and the tests run; nothing is registered at import
time, so the intervals come from the settings and two operators can live in one test process.
"""

from __future__ import annotations

from typing import Any

import kopf

from silobridge.errors import InvalidInput
from silobridge_operator import cluster, conditions, job, objects
from silobridge_operator.context import API_VERSION, GROUP, VERSION, ctx_of, kopf_error
from silobridge_operator.kube import Connection, KubeError
from silobridge_operator.peer import belongs_to, peer_problem
from silobridge_operator.settings import OperatorSettings

CLUSTERS = (GROUP, VERSION, "silobridgeclusters")
JOBS = (GROUP, VERSION, "silobridgejobs")
PEERS = (GROUP, VERSION, "silobridgepeers")


def configure(settings: kopf.OperatorSettings) -> None:
    """Handler progress in annotations: the CRDs' status schemas hold only what users read."""
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=GROUP)
    settings.persistence.finalizer = f"{GROUP}/operator"
    settings.posting.level = 30  # warnings and errors become Kubernetes events


def registry(settings: OperatorSettings, conn: Connection) -> kopf.OperatorRegistry:
    reg = kopf.OperatorRegistry()

    @kopf.on.login(registry=reg)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return kopf.ConnectionInfo(
            server=conn.server,
            token=conn.token,
            scheme="Bearer" if conn.token else None,
            ca_path=str(conn.ca_file) if conn.ca_file else None,
            ca_data=conn.ca_data,
            certificate_path=str(conn.cert_file) if conn.cert_file else None,
            private_key_path=str(conn.key_file) if conn.key_file else None,
            insecure=conn.insecure,
        )

    # ---- SilobridgeCluster ----
    @kopf.on.resume(*CLUSTERS, backoff=5, registry=reg)
    @kopf.on.create(*CLUSTERS, backoff=5, registry=reg)
    @kopf.on.update(*CLUSTERS, field="spec", backoff=5, registry=reg)
    async def cluster_changed(body: Any, patch: kopf.Patch, memo: Any, logger: Any, **_: Any) -> None:
        await cluster.reconcile(ctx_of(memo), body, patch, logger)

    @kopf.timer(*CLUSTERS, interval=settings.status_interval_s, registry=reg)
    async def cluster_status(body: Any, patch: kopf.Patch, memo: Any, **_: Any) -> None:
        await cluster.refresh(ctx_of(memo), body, patch)

    # ---- SilobridgeJob ----
    @kopf.on.resume(*JOBS, backoff=5, registry=reg)
    @kopf.on.create(*JOBS, backoff=5, registry=reg)
    async def job_created(body: Any, patch: kopf.Patch, memo: Any, logger: Any, **_: Any) -> None:
        await job.submit(ctx_of(memo), body, patch, logger)

    @kopf.timer(*JOBS, interval=settings.job_poll_interval_s, registry=reg)
    async def job_status(body: Any, patch: kopf.Patch, memo: Any, **_: Any) -> None:
        await job.poll(ctx_of(memo), body, patch)

    @kopf.on.delete(*JOBS, backoff=5, registry=reg)
    async def job_deleted(body: Any, memo: Any, logger: Any, **_: Any) -> None:
        await job.stop(ctx_of(memo), body, logger)

    # ---- SilobridgePeer ----
    @kopf.on.resume(*PEERS, backoff=5, registry=reg)
    @kopf.on.create(*PEERS, backoff=5, registry=reg)
    @kopf.on.update(*PEERS, field="spec", backoff=5, registry=reg)
    async def peer_changed(body: Any, patch: kopf.Patch, memo: Any, **_: Any) -> None:
        await peer_reconcile(ctx_of(memo), body, patch, deleting=False)

    @kopf.on.delete(*PEERS, backoff=5, registry=reg)
    async def peer_deleted(body: Any, patch: kopf.Patch, memo: Any, **_: Any) -> None:
        await peer_reconcile(ctx_of(memo), body, patch, deleting=True)

    return reg


async def peer_reconcile(ctx: Any, body: Any, patch: kopf.Patch, *, deleting: bool) -> None:
    """Rewrite the routes of the peer's cluster (without it when deleting) and report."""
    ns = body["metadata"]["namespace"]
    generation = int(body["metadata"].get("generation", 1))
    try:
        clusters = await ctx.kube.list(API_VERSION, cluster.CLUSTER_KIND, ns)
    except KubeError as exc:
        raise kopf_error(exc) from None
    owners = [c for c in clusters if belongs_to(dict(body), c["metadata"]["name"], len(clusters) == 1)]
    previous = list((body.get("status") or {}).get("conditions") or [])
    if not owners:
        if deleting:
            return
        raise kopf.TemporaryError(f"no SilobridgeCluster for this peer in namespace {ns}", delay=10)
    owner = owners[0]
    try:
        spec = objects.parse_spec(
            dict(owner["spec"]), source=f"SilobridgeCluster {ns}/{owner['metadata']['name']}"
        )
    except InvalidInput as exc:
        raise kopf.TemporaryError(f"its cluster's spec is invalid: {exc}", delay=30) from None
    problem = peer_problem(dict(body["spec"]), spec.party_id)
    try:
        await cluster.apply_routes(ctx, owner, spec)
    except KubeError as exc:
        raise kopf_error(exc) from None
    if deleting:
        return
    routes = objects.names(owner["metadata"]["name"])["routes"]
    patch.status.update(
        {
            "observedGeneration": generation,
            "routesConfigMap": routes,
            "conditions": [
                conditions.condition(
                    previous,
                    "Ready",
                    problem is None,
                    "Routed" if problem is None else "InvalidSpec",
                    f"in {routes}" if problem is None else problem,
                    generation,
                )
            ],
        }
    )
