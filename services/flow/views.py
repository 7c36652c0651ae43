"""JSON shapes of the REST API (what the CLI and the board read)."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format

from flow import jobspec
from flow.scheduler import load_spec
from flow.store import JobRecord, JobStore, TaskRecord
from silobridge.cluster.v1 import cluster_pb2


def job_summary(job: JobRecord, party_id: int) -> dict[str, Any]:
    spec = load_spec(job.spec)
    return {
        "job_id": job.job_id,
        "state": job.state,
        "initiator": job.initiator,
        "role": jobspec.party_roles(spec).get(party_id, ""),
        "created": job.created,
        "updated": job.updated,
        "message": job.message,
    }


def job_detail(store: JobStore, job: JobRecord, party_id: int) -> dict[str, Any]:
    spec = load_spec(job.spec)
    out = job_summary(job, party_id)
    out["party_id"] = party_id
    out["timeout_s"] = spec.timeout_s
    out["parties"] = [
        {"party_id": p.party_id, "role": p.role, "state": p.state, "message": p.message}
        for p in store.list_parties(job.job_id)
    ]
    out["dag"] = [
        {"name": c.name, "component": c.component, "needs": jobspec.upstreams(c), "inputs": dict(c.inputs)}
        for c in spec.components
    ]
    out["tasks"] = [_task(store, t, party_id) for t in store.list_tasks(job.job_id)]
    return out


def _task(store: JobStore, t: TaskRecord, party_id: int) -> dict[str, Any]:
    last: dict[str, float] = {}
    if t.party_id == party_id:
        for m in store.list_metrics(t.job_id, t.party_id, t.task_name):
            last[m.name] = m.value
    return {
        "name": t.task_name,
        "component": t.component,
        "party_id": t.party_id,
        "role": t.role,
        "state": t.state,
        "attempt": t.attempt,
        "node_id": t.node_id,
        "started": t.started,
        "ended": t.ended,
        "progress": t.progress,
        "message": t.message,
        "summary": t.summary,
        "outputs": t.outputs,
        "metrics": last,
    }


def table_meta(meta: cluster_pb2.TableMeta) -> dict[str, Any]:
    return json_format.MessageToDict(
        meta, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
