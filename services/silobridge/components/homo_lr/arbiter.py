"""Arbiter of homo-LR: sums the clients' updates (under secure aggregation, only the sum),
averages them by sample count, and decides early stopping on the aggregated validation loss."""

from __future__ import annotations

import numpy as np

from silobridge.components.homo_lr.common import (
    TAIL,
    clients,
    fixed_point,
    threshold,
    vector_size,
    weight_shape,
)
from silobridge.components.homo_lr.guest import export
from silobridge.components.registry import TaskResult
from silobridge.errors import ComponentError, IntegrityError
from silobridge.federation.context import TaskContext
from silobridge.ml.aggregation import arbiter_sum
from silobridge.ml.protocol import recv_checked


def train(ctx: TaskContext) -> TaskResult:
    active = clients(ctx)
    schemas = {p: recv_checked(ctx, p, "schema", "setup") for p in active}
    first = schemas[active[0]]
    for p, s in schemas.items():
        if not isinstance(s, dict) or set(s) != {"features", "columns_sha256", "classes"}:
            raise IntegrityError(f"party {p} sent a malformed table schema")
        if s != first:
            raise ComponentError(
                f"clients disagree on the table layout: party {p} and party {active[0]} differ "
                "in feature columns or classes (homo_lr needs the same columns at every client)"
            )
    features, classes = int(first["features"]), int(first["classes"])
    size = vector_size(features, classes)
    secure = bool(ctx.param("secure_aggregation"))
    t = threshold(ctx, len(active))
    fp = fixed_point(ctx, len(active))
    timeout = float(ctx.param("dropout_timeout_s"))
    tol, patience, early = float(ctx.param("tol")), int(ctx.param("patience")), bool(ctx.param("early_stop"))
    rounds = int(ctx.param("rounds"))
    history: list[float] = []
    best, stale = float("inf"), 0
    w = np.zeros(size - TAIL)
    for rnd in range(rounds):
        total, active = arbiter_sum(
            ctx, rnd, active, size, secure=secure, fp=fp, threshold=t, timeout_s=timeout
        )
        n, val_sum, n_val = total[-3], total[-2], total[-1]
        if n <= 0 or n_val <= 0:
            raise IntegrityError(f"the aggregated sample counts of round {rnd} are not positive")
        w = total[:-TAIL] / n
        val_loss = float(val_sum / n_val)
        history.append(val_loss)
        ctx.log_metric("validation_loss", val_loss, rnd)
        ctx.log_metric("clients", float(len(active)), rnd)
        if val_loss < best - tol:
            best, stale = val_loss, 0
        else:
            stale += 1
        stop = early and stale >= patience
        verdict = {"weights": w, "stop": stop or rnd == rounds - 1, "validation_loss": val_loss, "round": rnd}
        for p in active:
            ctx.send(p, "global", verdict, tag=f"r{rnd}")
        ctx.progress((rnd + 1) / rounds)
        if stop:
            break
    model = export(w.reshape(weight_shape(features, classes)), None, classes, history)
    return TaskResult(
        model=model,
        summary={
            "rounds": float(len(history)),
            "validation_loss": history[-1],
            "clients": float(len(active)),
        },
    )
