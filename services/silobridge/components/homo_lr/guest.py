"""A client of homo-LR (the guest; hosts run the same code): trains locally from the global
model on its own rows, sends ``n * w`` (masked under secure aggregation), gets the average back."""

from __future__ import annotations

import numpy as np

from silobridge.components.homo_lr.common import (
    client_predictions,
    client_setup,
    dp_summary,
    global_message,
    private_update,
    schema,
    stratified_split,
    vector_size,
    weight_shape,
)
from silobridge.components.registry import TaskResult
from silobridge.federation.context import TaskContext
from silobridge.ml import logistic
from silobridge.ml.optim import Optimizer
from silobridge.ml.protocol import recv_checked
from silobridge.table import Table


def train(ctx: TaskContext) -> TaskResult:
    client = client_setup(ctx)
    table, classes, y, seed = client.table, client.classes, client.y, client.seed
    ctx.send("arbiter", "schema", schema(table, classes), tag="setup")

    X = logistic.with_intercept(table.features)
    train_rows, val_rows = stratified_split(
        y, float(ctx.param("validation_fraction")), np.random.default_rng([seed, ctx.party_id])
    )
    if len(val_rows) == 0:  # no hold-out: the global model is validated on the training rows
        val_rows = train_rows
    shape = weight_shape(len(table.feature_names), classes)
    size = vector_size(len(table.feature_names), classes)
    w = logistic.zeros(len(table.feature_names), classes)
    history: list[float] = []
    rounds = int(ctx.param("rounds"))
    for rnd in range(rounds):
        val_loss = logistic.loss(X[val_rows], y[val_rows], w)
        ctx.log_metric("local_validation_loss", val_loss, rnd)
        local = _local_training(
            ctx, X[train_rows], y[train_rows], w, rnd, np.random.default_rng([seed, ctx.party_id, rnd])
        )
        ctx.log_metric("local_drift", float(np.linalg.norm(local - w)), rnd)  # FedProx keeps it small
        local = private_update(ctx, local, w, rnd)
        n, n_val = float(len(train_rows)), float(len(val_rows))
        client.send(rnd, np.r_[n * local.ravel(), n, n_val * val_loss, n_val])
        verdict = global_message(recv_checked(ctx, "arbiter", "global", f"r{rnd}"), size)
        w = np.asarray(verdict["weights"], dtype=np.float64).reshape(shape)
        history.append(float(verdict["validation_loss"]))
        ctx.progress((rnd + 1) / rounds)
        if bool(verdict["stop"]):
            break
    return _result(ctx, table, y, X, w, classes, history)


def _local_training(
    ctx: TaskContext, X: np.ndarray, y: np.ndarray, w_global: np.ndarray, rnd: int, rng: np.random.Generator
) -> np.ndarray:
    opt = Optimizer(ctx.param("optimizer"), ctx.param("learning_rate"), ctx.param("lr_decay"))
    opt.set_epoch(rnd)  # the learning-rate schedule runs over rounds
    alpha, mu = float(ctx.param("alpha")), float(ctx.param("mu"))
    batch = int(ctx.param("batch_size"))
    batch = len(y) if batch < 0 else batch
    w = w_global.copy()
    for _ in range(int(ctx.param("local_epochs"))):
        order = rng.permutation(len(y))
        for start in range(0, len(y), batch):
            idx = order[start : start + batch]
            w = opt.step(w, logistic.gradient(X[idx], y[idx], w, alpha=alpha, mu=mu, anchor=w_global))
    return w


def _result(
    ctx: TaskContext,
    table: Table,
    y: np.ndarray,
    X: np.ndarray,
    w: np.ndarray,
    classes: int,
    history: list[float],
) -> TaskResult:
    p = logistic.probabilities(X, w)
    summary = {
        "rounds": float(len(history)),
        "validation_loss": history[-1],
        "features": float(X.shape[1] - 1),
    }
    dp_summary(ctx, len(history), summary)
    proba = np.c_[1.0 - p, p] if classes == 2 else p
    predictions = client_predictions(ctx, table, proba, y, summary, len(history))
    return TaskResult(
        tables={"predictions": predictions},
        model=export(w, table.feature_names, classes, history),
        summary=summary,
    )


def export(
    w: np.ndarray, feature_names: list[str] | None, classes: int, history: list[float]
) -> dict[str, np.ndarray]:
    """The model as the standard ``predict`` reads a guest model: weights, intercept, feature names.

    The arbiter exports the same model without names: it never learns the clients' columns.
    """
    model = {
        "weights": w[:-1].copy(),
        "intercept": np.atleast_1d(w[-1]).astype(np.float64),
        "classes": np.array([classes], dtype=np.int64),
        "loss_history": np.array(history),
    }
    if feature_names is not None:
        model["feature_names"] = np.asarray(feature_names, dtype=str)
    return model
