"""The guest and host of statistics: each describes its own columns; hosts share only moments."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from pydantic import Field, field_validator

from silobridge.components.registry import Params, TaskResult
from silobridge.errors import ComponentError, IntegrityError
from silobridge.federation.context import TaskContext
from silobridge.ml.protocol import recv_checked

MOMENTS = ("count", "missing_rate", "mean", "std", "skew")


class StatisticsParams(Params):
    quantiles: list[float] = Field(
        default_factory=lambda: [0.25, 0.5, 0.75],
        max_length=99,
        description="quantiles of every column, in [0, 1]",
    )
    share_with_guest: bool = Field(
        False, description="hosts send the guest their columns' moments (no names)"
    )

    @field_validator("quantiles")
    @classmethod
    def _unit(cls, v: list[float]) -> list[float]:
        if any(not 0.0 <= q <= 1.0 for q in v):
            raise ValueError("quantiles must lie in [0, 1]")
        return v


def describe(X: np.ndarray, quantiles: list[float]) -> dict[str, np.ndarray]:
    """Per column; NaN is missing, and a column with no value has NaN statistics."""
    present = ~np.isnan(X)
    count = present.sum(axis=0).astype(np.float64)
    out: dict[str, np.ndarray] = {"count": count, "missing_rate": 1.0 - count / max(1, X.shape[0])}
    with np.errstate(all="ignore"), warnings.catch_warnings():  # all-NaN columns give NaN, not warnings
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(X, axis=0)
        std = np.nanstd(X, axis=0)
        centred = X - mean
        m3 = np.nanmean(centred**3, axis=0)
        out["mean"], out["std"] = mean, std
        out["skew"] = np.where(std > 0, m3 / std**3, 0.0)
        out["min"], out["max"] = np.nanmin(X, axis=0), np.nanmax(X, axis=0)
        out["quantiles"] = np.nanquantile(X, quantiles, axis=0) if quantiles else np.empty((0, X.shape[1]))
    return out


def _own(ctx: TaskContext) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    table = ctx.input("data")
    if np.isinf(table.features).any():
        raise ComponentError(f"infinite feature values at party {ctx.party_id} ({ctx.role})")
    quantiles = [float(q) for q in ctx.param("quantiles")]
    stats = describe(table.features, quantiles)
    model: dict[str, Any] = {
        "component": np.asarray(["statistics"]),
        "feature_names": np.asarray(table.feature_names, dtype=str),
        "quantile_levels": np.asarray(quantiles, dtype=np.float64),
        **stats,
    }
    return model, stats


def host(ctx: TaskContext) -> TaskResult:
    model, stats = _own(ctx)
    if bool(ctx.param("share_with_guest")):
        k = ctx.limits.min_rows
        enough = stats["count"] >= k  # a mean of fewer than k values is refused column by column
        shared = {name: np.where(enough, stats[name], np.nan) for name in MOMENTS}
        shared["count"] = np.where(enough, stats["count"], np.nan)
        ctx.send("guest", "moments", shared, tag="stats")
    ctx.progress(1.0)
    return TaskResult(model=model, summary={"columns": float(len(stats["count"]))})


def guest(ctx: TaskContext) -> TaskResult:
    model, stats = _own(ctx)
    columns = len(stats["count"])
    if bool(ctx.param("share_with_guest")):
        for h in ctx.parties_of("host"):
            got = recv_checked(ctx, h, "moments", "stats")
            if not isinstance(got, dict) or set(got) != set(MOMENTS):
                raise IntegrityError(f"host {h} sent malformed column moments")
            sizes = {v.shape for v in got.values() if isinstance(v, np.ndarray) and v.ndim == 1}
            if len(sizes) != 1 or not all(isinstance(v, np.ndarray) for v in got.values()):
                raise IntegrityError(f"host {h} sent column moments of unequal lengths")
            for name in MOMENTS:
                model[f"host_{h}_{name}"] = got[name].astype(np.float64)
            columns += len(got["count"])
    ctx.progress(1.0)
    return TaskResult(model=model, summary={"columns": float(columns)})
