"""Arbiter of homo-LR: sums the clients' updates (under secure aggregation, only the sum),
averages them by sample count, and decides early stopping on the aggregated validation loss."""

from __future__ import annotations

import numpy as np

from silobridge.components.homo_lr.common import (
    TAIL,
    agreed_schema,
    clients,
    fedavg_rounds,
    vector_size,
    weight_shape,
)
from silobridge.components.homo_lr.guest import export
from silobridge.components.registry import TaskResult
from silobridge.federation.context import TaskContext


def train(ctx: TaskContext) -> TaskResult:
    active = clients(ctx)
    first = agreed_schema(ctx, active, {"features", "columns_sha256", "classes"}, "homo_lr")
    features, classes = int(first["features"]), int(first["classes"])
    size = vector_size(features, classes)
    w, history, active = fedavg_rounds(ctx, active, size, np.zeros(size - TAIL))
    model = export(w.reshape(weight_shape(features, classes)), None, classes, history)
    return TaskResult(
        model=model,
        summary={
            "rounds": float(len(history)),
            "validation_loss": history[-1],
            "clients": float(len(active)),
        },
    )
