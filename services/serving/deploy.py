"""Turning a deploy request (or a version kept on disk) into a ready-to-score version."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Any

import numpy as np

from serving.features import read_features
from serving.pipeline import STEPS, Pipeline
from serving.registry import Deployed, ModelKey
from serving.scorers import SUPPORTED, GuestLR, GuestSBT, Homo, HostLR, HostSBT
from silobridge.bus.base import check_word
from silobridge.bus.rpc import RpcClient
from silobridge.errors import InvalidInput
from silobridge.federation import codec

MODEL_FILE = "model.pb"
FEATURES_FILE = "features.pb"
PIPELINE_FILES = {step: f"{step}.pb" for step in STEPS}
Features = tuple[np.ndarray, np.ndarray, list[str]]


def _parties(raw: Any) -> dict[str, list[int]]:
    if not isinstance(raw, dict):
        raise InvalidInput("parties: an object {role: [party ids]}")
    try:
        return {str(role): [int(p) for p in ids] for role, ids in raw.items()}
    except (TypeError, ValueError):
        raise InvalidInput("parties: every party id must be an integer") from None


def _scorer(
    component: str, role: str, model: Any, table: Features | None, pipeline: Pipeline, party_id: int
) -> Any:
    if component.startswith("homo_"):
        return Homo.from_model(model, component)
    if role == "guest":
        if component == "hetero_secureboost":
            return GuestSBT.from_model(model, party_id)
        return GuestLR.from_model(model)
    if table is None:
        raise InvalidInput("feature_table: a host serves partial scores from its online feature table")
    ids, features, names = table
    if pipeline:
        features, names = pipeline.apply(features, names)
    if component == "hetero_secureboost":
        return HostSBT.from_model(model, ids, features, names, party_id)
    return HostLR.from_model(model, ids, features, names)


def _b64(body: dict[str, Any], field: str) -> bytes:
    try:
        return base64.b64decode(str(body[field]), validate=True)
    except binascii.Error:
        raise InvalidInput(f"{field}: base64 of the model as flow serves it") from None


async def build(
    body: dict[str, Any], *, version: int, party_id: int, rpc: RpcClient, timeout: float
) -> tuple[Deployed, dict[str, bytes]]:
    """A new version from ``POST /v1/models``; its files to keep."""
    allowed = {"name", "job_id", "task", "component", "role", "parties", "model", "feature_table", "activate"}
    allowed |= set(STEPS)
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidInput(f"unknown field {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")
    try:
        job_id = check_word(str(body["job_id"]), "job_id")
        task = check_word(str(body["task"]), "task")
        component, role = str(body["component"]), str(body["role"])
        data = _b64(body, "model")
    except KeyError as exc:
        raise InvalidInput(f"missing field {exc.args[0]!r}") from None
    if component not in SUPPORTED:
        raise InvalidInput(f"component {component!r} cannot be served (served: {', '.join(SUPPORTED)})")
    parties = _parties(body.get("parties", {}))
    if party_id not in parties.get(role, []):
        raise InvalidInput(f"party {party_id} is not a {role} of job {job_id}")
    if role not in ("guest", "host"):
        raise InvalidInput(f"a {role} holds no servable model")
    model = codec.from_bytes(data)
    feature_table = str(body.get("feature_table") or "")
    table = None
    files = {MODEL_FILE: data}
    steps = {step: _b64(body, step) for step in STEPS if body.get(step)}
    pipeline = Pipeline.from_models({step: codec.from_bytes(raw) for step, raw in steps.items()})
    files.update({PIPELINE_FILES[step]: raw for step, raw in steps.items()})
    if role == "host" and not component.startswith("homo_"):
        if not feature_table:
            raise InvalidInput("feature_table: a host serves partial scores from its online feature table")
        table = await read_features(rpc, feature_table, timeout)
        files[FEATURES_FILE] = codec.to_bytes(
            {"ids": table[0], "features": table[1], "feature_names": np.asarray(table[2], dtype=str)}
        )
    d = Deployed(
        name=str(body.get("name") or "default"),
        version=version,
        key=ModelKey(job_id, task),
        component=component,
        role="local" if component.startswith("homo_") else role,
        parties=parties,
        scorer=_scorer(component, role, model, table, pipeline, party_id),
        feature_table=feature_table,
        pipeline=pipeline,
    )
    return d, files


def restore(meta: dict[str, Any], folder: Path, party_id: int) -> Deployed:
    """A version kept on disk, rebuilt without asking any other service."""
    model = codec.from_bytes((folder / MODEL_FILE).read_bytes())
    table = None
    if (folder / FEATURES_FILE).is_file():
        t = codec.from_bytes((folder / FEATURES_FILE).read_bytes())
        table = (
            np.asarray(t["ids"]).astype(str),
            np.asarray(t["features"], dtype=np.float64),
            [str(n) for n in np.asarray(t["feature_names"]).ravel()],
        )
    role = "host" if meta["role"] == "host" else "guest"
    pipeline = Pipeline.from_models(
        {
            step: codec.from_bytes((folder / fname).read_bytes())
            for step, fname in PIPELINE_FILES.items()
            if (folder / fname).is_file()
        }
    )
    return Deployed(
        name=meta["name"],
        version=int(meta["version"]),
        key=ModelKey(meta["job_id"], meta["task"]),
        component=meta["component"],
        role=meta["role"],
        parties={k: [int(p) for p in v] for k, v in meta["parties"].items()},
        scorer=_scorer(meta["component"], role, model, table, pipeline, party_id),
        deployed_unix=float(meta["deployed_unix"]),
        feature_table=meta.get("feature_table", ""),
        pipeline=pipeline,
    )
