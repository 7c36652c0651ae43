"""Status conditions of a SilobridgeCluster, judged from its workloads as the API server has them.

Ready: every Deployment and StatefulSet has observed its latest spec and has all replicas updated
and available. Progressing: a rollout (first deployment or an upgrade) is under way. Degraded: a
rollout failed (a Deployment passed its progress deadline or reports ReplicaFailure) or the spec is
invalid. Without a kubelet nothing ever becomes available, so Ready stays False with the reason
``WorkloadsNotAvailable``: that is what can be judged.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

TRUE, FALSE = "True", "False"


@dataclass
class Judgement:
    waiting: list[str] = field(default_factory=list)  # "<name>: 0/1 available"
    failed: list[str] = field(default_factory=list)  # "<name>: <reason>: <message>"

    @property
    def ready(self) -> bool:
        return not self.waiting and not self.failed


def judge(workloads: list[dict[str, Any]]) -> Judgement:
    out = Judgement()
    for w in workloads:
        name = w["metadata"]["name"]
        desired = int(w.get("spec", {}).get("replicas", 1))
        st = w.get("status") or {}
        for cond in st.get("conditions") or []:
            stuck = cond.get("type") == "Progressing" and cond.get("status") == FALSE
            if stuck or (cond.get("type") == "ReplicaFailure" and cond.get("status") == TRUE):
                out.failed.append(f"{name}: {cond.get('reason', '')}: {cond.get('message', '')}".rstrip(": "))
        observed = int(st.get("observedGeneration", 0)) >= int(w["metadata"].get("generation", 1))
        available_key = "availableReplicas" if w["kind"] == "Deployment" else "readyReplicas"
        available = int(st.get(available_key, 0))
        updated = int(st.get("updatedReplicas", 0))
        if not observed:
            out.waiting.append(f"{name}: spec not yet observed")
        elif updated < desired or available < desired:
            out.waiting.append(f"{name}: {min(updated, available)}/{desired} updated and available")
    return out


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def condition(
    previous: list[dict[str, Any]], kind: str, status: bool, reason: str, message: str, generation: int
) -> dict[str, Any]:
    """One condition; its lastTransitionTime moves only when its status changes."""
    value = TRUE if status else FALSE
    old = next((c for c in previous if c.get("type") == kind), None)
    since = old["lastTransitionTime"] if old and old.get("status") == value else now()
    return {
        "type": kind,
        "status": value,
        "reason": reason,
        "message": message[:1024],
        "lastTransitionTime": since,
        "observedGeneration": generation,
    }


def cluster_status(
    previous: dict[str, Any], judgement: Judgement, *, generation: int, target_version: str
) -> dict[str, Any]:
    """The whole status of a cluster whose objects were applied for ``generation``."""
    conds = list(previous.get("conditions") or [])
    rolled = previous.get("version")
    upgrading = rolled is not None and rolled != target_version
    waiting = "; ".join(judgement.waiting)
    if judgement.failed:
        reason = "UpgradeFailed" if upgrading else "RolloutFailed"
        what = f"upgrade {rolled} -> {target_version} failed" if upgrading else "rollout failed"
        message = f"{what}: " + "; ".join(judgement.failed)
        phase = "Degraded"
        progressing = condition(conds, "Progressing", False, reason, message, generation)
        degraded = condition(conds, "Degraded", True, reason, message, generation)
    elif judgement.ready:
        phase = "Ready"
        progressing = condition(
            conds, "Progressing", False, "RolloutComplete", "every workload is available", generation
        )
        degraded = condition(conds, "Degraded", False, "AsExpected", "", generation)
    else:
        reason = "RollingUpdate" if upgrading else "Deploying"
        phase = "Upgrading" if upgrading else "Deploying"
        progressing = condition(conds, "Progressing", True, reason, waiting, generation)
        degraded = condition(conds, "Degraded", False, "AsExpected", "", generation)
    ready = condition(
        conds,
        "Ready",
        judgement.ready,
        "AllWorkloadsAvailable" if judgement.ready else "WorkloadsNotAvailable",
        "every workload is available" if judgement.ready else waiting or "; ".join(judgement.failed),
        generation,
    )
    status: dict[str, Any] = {
        "phase": phase,
        "observedGeneration": generation,
        "targetVersion": target_version,
        "conditions": [ready, progressing, degraded],
    }
    if judgement.ready:
        status["version"] = target_version
    elif rolled is not None:
        status["version"] = rolled
    return status


def invalid_spec_status(previous: dict[str, Any], message: str, generation: int) -> dict[str, Any]:
    conds = list(previous.get("conditions") or [])
    return {
        **{k: v for k, v in previous.items() if k in ("version", "targetVersion")},
        "phase": "Failed",
        "observedGeneration": generation,
        "conditions": [
            condition(conds, "Ready", False, "InvalidSpec", message, generation),
            condition(conds, "Progressing", False, "InvalidSpec", message, generation),
            condition(conds, "Degraded", True, "InvalidSpec", message, generation),
        ],
    }
