"""Every role of feature_selection: choose among the party's own columns, keep the chosen names."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field

from silobridge.components import pipeline
from silobridge.components.registry import Params, TaskResult
from silobridge.errors import ComponentError
from silobridge.federation.context import TaskContext


class SelectionParams(Params):
    method: Literal["iv_threshold", "iv_top_k", "variance", "missing_rate"] = Field(
        "iv_threshold",
        description="keep columns with IV >= threshold, the top_k by IV, variance >= threshold, "
        "or missing rate <= threshold",
    )
    threshold: float = Field(0.02, ge=0.0, description="the IV, variance or missing-rate threshold")
    top_k: int = Field(10, ge=1, le=100_000, description="columns kept per party by iv_top_k")


def _iv(ctx: TaskContext, names: list[str]) -> np.ndarray:
    model: Any = ctx.input_models.get("binning")
    if not isinstance(model, dict) or "iv" not in model:
        raise ComponentError(
            f"selection by IV at party {ctx.party_id} needs its hetero_binning model with IVs as input 'binning'"
        )
    if pipeline.names_of(model) != names:
        raise ComponentError(f"the binning model at party {ctx.party_id} is of other columns than the table")
    return np.asarray(model["iv"], dtype=np.float64)


def _keep(ctx: TaskContext, X: np.ndarray, names: list[str]) -> np.ndarray:
    method, threshold = str(ctx.param("method")), float(ctx.param("threshold"))
    if method == "iv_threshold":
        return _iv(ctx, names) >= threshold
    if method == "iv_top_k":
        iv = _iv(ctx, names)
        top = np.argsort(-iv, kind="stable")[: int(ctx.param("top_k"))]
        return np.isin(np.arange(len(names)), top)
    if method == "variance":
        with np.errstate(all="ignore"):
            variance = np.nanvar(X, axis=0) if len(X) else np.zeros(len(names))
        return np.nan_to_num(variance, nan=0.0) >= threshold
    missing: np.ndarray = np.isnan(X).mean(axis=0)
    return missing <= threshold


def fit(ctx: TaskContext) -> TaskResult:
    table = ctx.input("data")
    keep = _keep(ctx, table.features, list(table.feature_names))
    if not keep.any():
        raise ComponentError(
            f"feature_selection keeps no column at party {ctx.party_id} ({ctx.param('method')}); "
            "lower the threshold",
            public_message=f"feature_selection keeps no column at party {ctx.party_id}",
        )
    model = {
        "component": np.asarray(["feature_selection"]),
        "method": np.asarray([str(ctx.param("method"))]),
        "feature_names": np.asarray(table.feature_names, dtype=str),
        "selected": np.asarray([n for n, k in zip(table.feature_names, keep, strict=True) if k], dtype=str),
    }
    ctx.progress(1.0)
    return TaskResult(
        tables={"data": pipeline.select(model, table)},
        model=model,
        summary={"features": float(len(keep)), "selected": float(keep.sum())},
    )
