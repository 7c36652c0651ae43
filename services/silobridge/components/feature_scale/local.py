"""Every role of feature_scale: fit on the party's own rows, transform, keep the scaler."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from silobridge.components import pipeline
from silobridge.components.registry import Params, TaskResult
from silobridge.errors import ComponentError
from silobridge.federation.context import TaskContext


class ScaleParams(Params):
    method: Literal["standard", "min_max"] = Field(
        "standard", description="'standard' ((x - mean) / std) or 'min_max' ((x - min) / (max - min))"
    )


def fit(ctx: TaskContext) -> TaskResult:
    table = ctx.input("data")
    X = table.features
    if np.isinf(X).any() or table.rows == 0:
        raise ComponentError(f"feature_scale needs rows of finite or missing values at party {ctx.party_id}")
    if str(ctx.param("method")) == "standard":
        center, spread = np.nanmean(X, axis=0), np.nanstd(X, axis=0)
    else:
        center = np.nanmin(X, axis=0)
        spread = np.nanmax(X, axis=0) - center
    spread = np.where(np.isfinite(spread) & (spread > 0), spread, 1.0)  # constant columns stay as they are
    center = np.where(np.isfinite(center), center, 0.0)
    model = {
        "component": np.asarray(["feature_scale"]),
        "method": np.asarray([str(ctx.param("method"))]),
        "feature_names": np.asarray(table.feature_names, dtype=str),
        "center": center,
        "scale": spread,
    }
    ctx.progress(1.0)
    return TaskResult(
        tables={"data": pipeline.scale(model, table)},
        model=model,
        summary={"features": float(len(table.feature_names))},
    )
