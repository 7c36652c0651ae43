"""Guest of hetero-LR: holds the labels, forms the encrypted residual [[d]] and the encrypted loss."""

from __future__ import annotations

import math
import secrets
from typing import Any

import numpy as np

from silobridge.components import homo_predict
from silobridge.components.hetero_lr.common import (
    batches,
    check_plan,
    dot,
    encrypted,
    fresh,
    initial,
    largest_batch,
    mask,
    names_array,
    obfuscator_pool,
    optimizer,
    outgoing,
    products,
    quarter,
    receive_public_key,
    send_weight_diff,
    vector,
)
from silobridge.components.hetero_lr.host import model_weights
from silobridge.components.registry import TaskResult
from silobridge.errors import ComponentError, IntegrityError
from silobridge.federation.context import TaskContext
from silobridge.ml import metrics
from silobridge.ml.checks import binary_label, finite_features
from silobridge.ml.protocol import recv_all_checked, recv_checked
from silobridge.table import Table


def train(ctx: TaskContext) -> TaskResult:
    table = ctx.input("data")
    y = binary_label(table, ctx)
    finite_features(table, ctx)
    hosts = ctx.parties_of("host")
    if not hosts or not ctx.parties_of("arbiter"):
        raise ComponentError("hetero_lr needs a guest, at least one host and an arbiter")
    pk = receive_public_key(ctx)
    for h, rows in zip(hosts, recv_all_checked(ctx, "host", "rows", "setup"), strict=True):
        if int(rows) != table.rows:
            raise ComponentError(
                f"row counts differ: the guest holds {table.rows} rows, host {h} holds {rows} "
                "(run psi first so that every party holds the same aligned rows)"
            )
    seed = int(ctx.param("seed")) if ctx.param("seed") is not None else secrets.randbits(32)
    batch_size = int(ctx.param("batch_size"))
    plan = check_plan(ctx, {"rows": table.rows, "batch_size": batch_size, "seed": seed}, table.rows)
    ctx.send("host", "plan", plan, tag="setup")
    ctx.send("arbiter", "plan", plan, tag="setup")
    ctx.send("arbiter", "features", len(table.feature_names), tag="setup")

    X = np.hstack([table.features, np.ones((table.rows, 1))])  # last column: the intercept
    y_pm = 2.0 * y - 1.0
    alpha = float(ctx.param("alpha"))
    opt = optimizer(ctx)
    w = initial(ctx, X.shape[1])
    losses: list[float] = []
    epochs = int(ctx.param("epochs"))
    pool = obfuscator_pool(
        ctx, pk, largest_batch(table.rows, batch_size) * len(hosts), table.rows, per_row=len(hosts)
    )
    try:
        for epoch in range(epochs):
            opt.set_epoch(epoch)
            w_start = w.copy()
            for b, idx in enumerate(batches(table.rows, batch_size, seed, epoch)):
                tag = f"e{epoch}b{b}"
                xb, yb = X[idx], y_pm[idx]
                m = len(idx)
                u_g = xb @ w
                forwards = [
                    _forward(ctx, f, m, h)
                    for h, f in zip(hosts, recv_all_checked(ctx, "host", "forward", tag), strict=True)
                ]
                enc_u = forwards[0]["u"]
                for f in forwards[1:]:
                    enc_u = enc_u + f["u"]
                # Cross terms between hosts for the Taylor loss: host j gets [[u_i]] of every host i before it.
                cross: list[Any] = []
                for j, hj in enumerate(hosts):
                    for hi, fi in zip(hosts[:j], forwards[:j], strict=True):
                        ctx.send(
                            hj,
                            "peer_forward",
                            outgoing(fi["u"].obfuscate(compute=ctx.compute)),
                            tag=f"{tag}p{hi}",
                        )
                for j, hj in enumerate(hosts):
                    for hi in hosts[:j]:
                        cross.append(
                            encrypted(ctx, recv_checked(ctx, hj, "cross", f"{tag}p{hi}"), "cross term")
                        )
                # [[d]] = 0.25 * (u_g + sum u_h) - 0.5 * y   (y in {-1, +1}): the Taylor residual.
                enc_d = quarter(ctx, enc_u) + (0.25 * u_g - 0.5 * yb)
                for h in hosts:
                    ctx.send(h, "residual", fresh(ctx, enc_d, pool), tag=tag)
                r = mask(X.shape[1])
                enc_g = products(ctx, enc_d, xb) * (1.0 / m)
                ctx.send("arbiter", "masked_gradient", outgoing((enc_g + r).obfuscate()), tag=tag)
                # Batch loss: mean(log 2 - 0.5 y z + 0.125 z^2) + 0.5 alpha |w|^2 summed over parties.
                const = m * math.log(2.0) - 0.5 * float(yb @ u_g) + 0.125 * float(u_g @ u_g)
                enc_loss = dot(ctx, enc_u, 0.25 * u_g - 0.5 * yb) + np.array([const])
                for f in forwards:
                    enc_loss = enc_loss + f["loss"]
                for c in cross:
                    enc_loss = enc_loss + c * 0.25
                enc_loss = enc_loss * (1.0 / m) + np.array([0.5 * alpha * float(w[:-1] @ w[:-1])])
                ctx.send("arbiter", "loss", outgoing(enc_loss.obfuscate()), tag=tag)
                g = (
                    vector(recv_checked(ctx, "arbiter", "gradient", tag), X.shape[1], "decrypted gradient")
                    - r
                )
                g[:-1] += alpha * w[:-1]
                w = opt.step(w, g)
            send_weight_diff(ctx, pk, w_start, w, epoch)
            verdict = recv_checked(ctx, "arbiter", "stop", f"e{epoch}")
            losses.append(float(verdict["loss"]))
            ctx.log_metric("loss", losses[-1], epoch)
            ctx.progress((epoch + 1) / epochs)
            if bool(verdict.get("stop")):
                break
    finally:
        if pool is not None:
            pool.close()
    weights, intercept = w[:-1], float(w[-1])
    predictions = _predictions(ctx, table, weights, intercept)
    score = predictions.features[:, 0]
    summary = {"epochs": float(len(losses)), "loss": losses[-1], "features": float(len(weights))}
    if y.min() != y.max():
        summary["train_auc"] = metrics.auc(y, score)
    return TaskResult(
        tables={"predictions": predictions},
        model={
            "weights": weights,
            "intercept": np.array([intercept]),
            "feature_names": names_array(table.feature_names),
            "loss_history": np.array(losses),
        },
        summary=summary,
    )


def _forward(ctx: TaskContext, value: Any, m: int, host: int) -> dict[str, Any]:
    if not isinstance(value, dict) or set(value) != {"u", "loss"}:
        raise IntegrityError(f"host {host} sent a malformed forward message")
    u = encrypted(ctx, value["u"], f"host {host} forward")
    loss = encrypted(ctx, value["loss"], f"host {host} loss")
    if len(u) != m or len(loss) != 1:
        raise IntegrityError(f"host {host} sent {len(u)} encrypted scores for a batch of {m}")
    return {"u": u, "loss": loss}


def _predictions(ctx: TaskContext, table: Table, weights: np.ndarray, intercept: float) -> Table:
    """Guest side of the predict protocol: add every host's plaintext partial scores."""
    z = table.features @ weights + intercept
    for h, part in zip(
        ctx.parties_of("host"), recv_all_checked(ctx, "host", "partial_scores", "predict"), strict=True
    ):
        z = z + vector(part, table.rows, f"partial scores of host {h}")
    return Table(
        ids=table.ids,
        features=metrics.sigmoid(z)[:, None],
        feature_names=["score"],
        label=table.label,
        id_name=table.id_name,
        label_name=table.label_name,
    )


def predict(ctx: TaskContext) -> TaskResult:
    table = ctx.input("data")
    finite_features(table, ctx)
    homo = homo_predict.component_of(ctx.input_models.get("model"))
    if homo is not None:  # a horizontal model scores this party's own rows alone
        return homo_predict.predict(ctx, table, ctx.input_models["model"], homo)
    w = model_weights(ctx, table.feature_names)
    model = ctx.input_models["model"]
    if "intercept" not in model:
        raise ComponentError(
            f"the model at party {ctx.party_id} is not a guest hetero_lr model (no intercept)"
        )
    intercept = float(np.asarray(model["intercept"], dtype=np.float64).ravel()[0])
    predictions = _predictions(ctx, table, w, intercept)
    summary = {"rows": float(table.rows)}
    if table.label is not None and set(np.unique(table.label)) == {0.0, 1.0}:
        summary["auc"] = metrics.auc(table.label, predictions.features[:, 0])
    return TaskResult(tables={"predictions": predictions}, summary=summary)
