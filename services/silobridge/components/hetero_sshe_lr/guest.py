"""Guest of hetero_sshe_lr: the only key holder; what it decrypts stays with it."""

from __future__ import annotations

import secrets
from typing import Any

import numpy as np

from silobridge.components.hetero_lr.common import batches
from silobridge.components.hetero_sshe_lr.common import ciphertexts, count, names_array, one_host
from silobridge.components.pipeline import with_columns
from silobridge.components.registry import TaskResult
from silobridge.crypto import PrivateKey, PublicKey, generate_keypair
from silobridge.errors import ComponentError
from silobridge.federation.context import TaskContext
from silobridge.ml import metrics
from silobridge.ml.checks import binary_label, finite_features
from silobridge.ml.protocol import recv_checked
from silobridge.table import Table


def _keys(ctx: TaskContext, host: int) -> tuple[PublicKey, PrivateKey]:
    pk, sk = generate_keypair(int(ctx.param("key_bits")))
    ctx.trust_key(pk)
    ctx.send(host, "pubkey", pk, tag="setup")
    return pk, sk


def host_scores(
    ctx: TaskContext, host: int, pk: PublicKey, sk: PrivateKey, share: np.ndarray, rows: int
) -> np.ndarray:
    """The host's partial scores X_h (w_host + w_guest_share): the host adds its share under our key."""
    ctx.send(host, "w_share", pk.encrypt_vector(share, compute=ctx.compute), tag="score")
    enc = ciphertexts(
        recv_checked(ctx, host, "partial_scores", "score"), rows, f"partial scores of host {host}"
    )
    return sk.decrypt_vector(enc, compute=ctx.compute)


def _predictions(table: Table, z: np.ndarray) -> Table:
    return with_columns(table, metrics.sigmoid(z)[:, None], ["score"])


def train(ctx: TaskContext) -> TaskResult:
    table = ctx.input("data")
    y = binary_label(table, ctx)
    finite_features(table, ctx)
    host = one_host(ctx)
    setup = recv_checked(ctx, host, "shape", "setup")
    if not isinstance(setup, dict) or set(setup) != {"rows", "features"}:
        raise ComponentError(f"host {host} sent a malformed setup")
    if setup["rows"] != table.rows:
        raise ComponentError(
            f"row counts differ: the guest holds {table.rows} rows, host {host} holds {setup['rows']} "
            "(run psi first so that every party holds the same aligned rows)"
        )
    d_h = count(setup["features"], f"host {host} feature count")
    pk, sk = _keys(ctx, host)
    seed = int(ctx.param("seed")) if ctx.param("seed") is not None else secrets.randbits(32)
    batch_size = int(ctx.param("batch_size"))
    ctx.send(host, "plan", {"rows": table.rows, "batch_size": batch_size, "seed": seed}, tag="setup")
    X = np.hstack([table.features, np.ones((table.rows, 1))])  # last column: the intercept
    c = X.shape[1]
    ctx.send(host, "columns", c, tag="setup")
    ctx.send(host, "x_guest", pk.encrypt_vector(X.ravel(), compute=ctx.compute), tag="setup")
    lr, alpha = float(ctx.param("learning_rate")), float(ctx.param("alpha"))
    w = np.zeros(c)
    share = np.zeros(d_h)  # our additive share of the host's weights
    epochs = int(ctx.param("epochs"))
    for epoch in range(epochs):
        for b, idx in enumerate(batches(table.rows, batch_size, seed, epoch)):
            tag, m, xb = f"e{epoch}b{b}", len(idx), X[idx]
            u = 0.25 * (xb @ w) + 0.5 - y[idx]  # our part of the Taylor residual sigmoid(z) - y
            ctx.send(host, "u", pk.encrypt_vector(u, compute=ctx.compute), tag=tag)
            ctx.send(host, "w_share", pk.encrypt_vector(share, compute=ctx.compute), tag=tag)
            reply = recv_checked(ctx, host, "masked", tag)
            if not isinstance(reply, dict) or set(reply) != {"residual", "guest_mask", "host_gradient"}:
                raise ComponentError(f"host {host} sent a malformed reply for batch {tag}")
            d_masked = sk.decrypt_vector(
                ciphertexts(reply["residual"], m, "masked residual"), compute=ctx.compute
            )
            eps_term = sk.decrypt_vector(ciphertexts(reply["guest_mask"], c, "residual mask term"))
            host_g = sk.decrypt_vector(ciphertexts(reply["host_gradient"], d_h, "host gradient share"))
            g = (xb.T @ d_masked - eps_term) / m  # X_g^T (d + eps) - X_g^T eps = X_g^T d
            g[:-1] += alpha * w[:-1]
            w = w - lr * g
            share = share - lr * (host_g + alpha * share)
        ctx.progress((epoch + 1) / epochs)
    z = table.features @ w[:-1] + w[-1] + host_scores(ctx, host, pk, sk, share, table.rows)
    predictions = _predictions(table, z)
    summary = {
        "epochs": float(epochs),
        "features": float(c - 1),
        "train_auc": metrics.auc(y, predictions.features[:, 0]),
    }
    return TaskResult(
        tables={"predictions": predictions},
        model={
            "component": np.asarray(["hetero_sshe_lr"]),
            "weights": w[:-1],
            "intercept": np.array([w[-1]]),
            "feature_names": names_array(table.feature_names),
            "host_share": share,
        },
        summary=summary,
    )


def _model(ctx: TaskContext, names: list[str]) -> dict[str, Any]:
    model: Any = ctx.input_models.get("model")
    if not isinstance(model, dict) or "host_share" not in model or "intercept" not in model:
        raise ComponentError(
            f"predict at party {ctx.party_id} needs its hetero_sshe_lr guest model as 'model'"
        )
    if [str(n) for n in np.asarray(model["feature_names"], dtype=str)] != names:
        raise ComponentError(
            f"the input table's feature columns at party {ctx.party_id} differ from the model's"
        )
    return model


def predict(ctx: TaskContext) -> TaskResult:
    table = ctx.input("data")
    finite_features(table, ctx)
    model = _model(ctx, list(table.feature_names))
    host = one_host(ctx)
    pk, sk = _keys(ctx, host)
    share = np.asarray(model["host_share"], dtype=np.float64)
    z = table.features @ np.asarray(model["weights"]) + float(np.asarray(model["intercept"]).ravel()[0])
    z = z + host_scores(ctx, host, pk, sk, share, table.rows)
    predictions = _predictions(table, z)
    summary = {"rows": float(table.rows)}
    if table.label is not None and set(np.unique(table.label)) == {0.0, 1.0}:
        summary["auc"] = metrics.auc(table.label, predictions.features[:, 0])
    return TaskResult(tables={"predictions": predictions}, summary=summary)
