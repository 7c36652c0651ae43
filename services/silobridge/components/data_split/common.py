"""Parameters of data_split and the tables of each split."""

from __future__ import annotations

import numpy as np
from pydantic import Field, model_validator

from silobridge.components.registry import Params, TaskResult
from silobridge.errors import ComponentError
from silobridge.federation.context import TaskContext
from silobridge.ml.checks import min_rows
from silobridge.table import Table

NAMES = ("train", "validate", "test")


class SplitParams(Params):
    train_size: float = Field(0.8, ge=0.0, le=1.0, description="fraction of rows in the train split")
    validate_size: float = Field(0.0, ge=0.0, le=1.0, description="fraction of rows for validation")
    test_size: float = Field(0.2, ge=0.0, le=1.0, description="fraction of rows for testing")
    stratified: bool = Field(True, description="keep the guest's label proportions in every split")
    seed: int | None = Field(None, ge=0, description="seed of the guest's draw; random when unset")

    @model_validator(mode="after")
    def _sum_to_one(self) -> SplitParams:
        if abs(self.train_size + self.validate_size + self.test_size - 1.0) > 1e-9:
            raise ValueError("train_size + validate_size + test_size must be 1")
        if self.train_size == 0.0:
            raise ValueError("train_size must be positive")
        return self


def fractions(ctx: TaskContext) -> np.ndarray:
    return np.array([float(ctx.param(f"{n}_size")) for n in NAMES])


def tables(ctx: TaskContext, table: Table, codes: np.ndarray) -> TaskResult:
    """One output table per non-empty split (each of at least this party's *k* rows)."""
    out: dict[str, Table] = {}
    summary: dict[str, float] = {}
    for code, name in enumerate(NAMES):
        idx = np.nonzero(codes == code)[0]
        if float(ctx.param(f"{name}_size")) == 0.0:
            if len(idx):
                raise ComponentError(f"the {name} split should be empty, it has rows")
            continue
        min_rows(ctx, len(idx), f"data_split: the {name} split")
        out[name] = table.take(idx)
        summary[f"{name}_rows"] = float(len(idx))
    ctx.progress(1.0)
    return TaskResult(tables=out, summary=summary)
