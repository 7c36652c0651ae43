"""A client of homo-NN (the guest; hosts run the same code): builds the network of the job's spec,
trains it locally from the global parameters, sends ``n * parameters`` (masked under secure
aggregation) and gets the average back. The guest's initial parameters start round 0 everywhere."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from silobridge.components.homo_lr.common import (
    client_predictions,
    client_setup,
    dp_summary,
    global_message,
    private_update,
    stratified_split,
)
from silobridge.components.homo_nn.common import schema, vector_size
from silobridge.components.registry import TaskResult
from silobridge.errors import IntegrityError
from silobridge.federation.context import TaskContext
from silobridge.ml import nn
from silobridge.ml.protocol import recv_checked
from silobridge.table import Table


def train(ctx: TaskContext) -> TaskResult:
    torch = nn.require_torch()
    torch.set_num_threads(1)  # small networks; a node-manager runs several tasks side by side
    client = client_setup(ctx)
    table, classes, y, seed = client.table, client.classes, client.y, client.seed
    spec = ctx.param("model")
    module = nn.build(spec, len(table.feature_names), classes, seed=seed)
    shuffle = torch.Generator().manual_seed(seed * 1_000_003 + ctx.party_id)
    w = nn.flat_parameters(module)
    ctx.send("arbiter", "schema", schema(table, classes, spec, len(w)), tag="setup")
    if ctx.role == "guest":
        ctx.send("arbiter", "init", w, tag="setup")
    init = recv_checked(ctx, "arbiter", "init", "setup")
    if not isinstance(init, np.ndarray) or init.shape != w.shape or not np.all(np.isfinite(init)):
        raise IntegrityError(f"the arbiter's initial model is not {len(w)} finite numbers")
    nn.load_flat(module, init)

    X = torch.from_numpy(np.asarray(table.features, dtype=np.float32))
    target = torch.from_numpy(y.astype(np.int64))
    train_rows, val_rows = stratified_split(
        y, float(ctx.param("validation_fraction")), np.random.default_rng([seed, ctx.party_id])
    )
    if len(val_rows) == 0:  # no hold-out: the global model is validated on the training rows
        val_rows = train_rows
    history: list[float] = []
    rounds = int(ctx.param("rounds"))
    for rnd in range(rounds):
        val_loss = _loss(torch, module, X[val_rows], target[val_rows])
        ctx.log_metric("local_validation_loss", val_loss, rnd)
        global_w = nn.flat_parameters(module)
        local = _local_training(ctx, torch, module, X[train_rows], target[train_rows], rnd, shuffle)
        ctx.log_metric("local_drift", float(np.linalg.norm(local - global_w)), rnd)
        local = private_update(ctx, local, global_w, rnd)
        n, n_val = float(len(train_rows)), float(len(val_rows))
        client.send(rnd, np.r_[n * local, n, n_val * val_loss, n_val])
        verdict = global_message(recv_checked(ctx, "arbiter", "global", f"r{rnd}"), vector_size(len(w)))
        nn.load_flat(module, np.asarray(verdict["weights"], dtype=np.float64))
        history.append(float(verdict["validation_loss"]))
        ctx.progress((rnd + 1) / rounds)
        if bool(verdict["stop"]):
            break
    return _result(ctx, module, table, y, classes, spec, history)


def _loss(torch: Any, module: Any, X: Any, target: Any) -> float:
    module.eval()
    with torch.no_grad():
        return float(torch.nn.functional.cross_entropy(module(X), target))


def _local_training(
    ctx: TaskContext, torch: Any, module: Any, X: Any, target: Any, rnd: int, shuffle: Any
) -> np.ndarray:
    lr = float(ctx.param("learning_rate")) / (1.0 + float(ctx.param("lr_decay")) * rnd)
    opt = nn.optimizer(
        module, ctx.param("optimizer"), lr, float(ctx.param("momentum")), float(ctx.param("weight_decay"))
    )
    mu = float(ctx.param("mu"))
    anchor = [p.detach().clone() for p in module.parameters()]
    batch = int(ctx.param("batch_size"))
    batch = len(target) if batch < 0 else batch
    module.train()
    for _ in range(int(ctx.param("local_epochs"))):
        order = torch.randperm(len(target), generator=shuffle)
        for start in range(0, len(target), batch):
            idx = order[start : start + batch]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(module(X[idx]), target[idx])
            if mu > 0:  # FedProx: stay near the round's global model
                loss = loss + mu / 2 * sum(
                    ((p - a) ** 2).sum() for p, a in zip(module.parameters(), anchor, strict=True)
                )
            loss.backward()
            opt.step()
    return nn.flat_parameters(module)


def _result(
    ctx: TaskContext,
    module: Any,
    table: Table,
    y: np.ndarray,
    classes: int,
    spec: dict[str, Any],
    history: list[float],
) -> TaskResult:
    p = nn.probabilities(module, table.features)  # the standard predict scores the same way
    summary = {"rounds": float(len(history)), "validation_loss": history[-1]}
    dp_summary(ctx, len(history), summary)
    predictions = client_predictions(ctx, table, p, y, summary, len(history))
    model = {
        "parameters": nn.flat_parameters(module),
        "architecture": np.array(json.dumps(spec, sort_keys=True)),
        "classes": np.array([classes], dtype=np.int64),
        "feature_names": np.asarray(table.feature_names, dtype=str),
        "loss_history": np.array(history),
    }
    return TaskResult(tables={"predictions": predictions}, model=model, summary=summary)
