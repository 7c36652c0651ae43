"""Host of hetero_sshe_lr: holds a share of its weights and receives only ciphertexts under the guest's key."""

from __future__ import annotations

from typing import Any

import numpy as np

from silobridge.components.hetero_lr.common import batches
from silobridge.components.hetero_sshe_lr.common import (
    check_plan,
    ciphertexts,
    count,
    mask,
    names_array,
    one_host,
)
from silobridge.components.registry import TaskResult
from silobridge.crypto import EncryptedVector, PublicKey
from silobridge.errors import ComponentError, IntegrityError
from silobridge.federation.context import TaskContext
from silobridge.ml.checks import finite_features, min_rows
from silobridge.ml.protocol import recv_checked


def _public_key(ctx: TaskContext) -> PublicKey:
    pk = recv_checked(ctx, "guest", "pubkey", "setup")
    if not isinstance(pk, PublicKey):
        raise IntegrityError("the guest sent no Paillier public key")
    if pk.bits < int(ctx.param("key_bits")):
        raise IntegrityError(f"the guest's key has {pk.bits} bits, the job accepted {ctx.param('key_bits')}")
    ctx.trust_key(pk)
    return pk


def send_scores(ctx: TaskContext, X: np.ndarray, own: np.ndarray) -> None:
    """[[X_h (w_own + w_guest_share)]] under the guest's key: the guest's share never reaches us in plaintext."""
    min_rows(ctx, X.shape[0], f"hetero_sshe_lr: the partial scores of host {ctx.party_id}")
    enc_share = ciphertexts(recv_checked(ctx, "guest", "w_share", "score"), X.shape[1], "guest weight share")
    enc = enc_share.rmatmul(X.T, compute=ctx.compute) + X @ own
    ctx.send("guest", "partial_scores", enc.obfuscate(compute=ctx.compute), tag="score")


def _batch(
    ctx: TaskContext,
    X: np.ndarray,
    enc_xg: EncryptedVector,
    c: int,
    own: np.ndarray,
    idx: np.ndarray,
    tag: str,
) -> np.ndarray:
    """One batch: shares of our gradient (we keep rho), the guest's residual masked by eps."""
    m, d_h = len(idx), X.shape[1]
    xb = X[idx]
    enc_u = ciphertexts(recv_checked(ctx, "guest", "u", tag), m, "guest residual part")
    enc_share = ciphertexts(recv_checked(ctx, "guest", "w_share", tag), d_h, "guest weight share")
    # [[d]] = [[u]] + 0.25 X_h w_own + 0.25 X_h [[w_guest_share]]
    enc_d = enc_u + 0.25 * (xb @ own) + enc_share.rmatmul(xb.T, compute=ctx.compute) * 0.25
    rho = mask(d_h)
    enc_g = enc_d.rmatmul(xb, compute=ctx.compute) * (1.0 / m) - rho
    eps = mask(m)
    cols = [enc_xg[idx * c + j].dot(eps, compute=ctx.compute) for j in range(c)]
    ctx.send(
        "guest",
        "masked",
        {
            "residual": (enc_d + eps).obfuscate(compute=ctx.compute),
            "guest_mask": EncryptedVector.concatenate(cols).obfuscate(compute=ctx.compute),
            "host_gradient": enc_g.obfuscate(compute=ctx.compute),
        },
        tag=tag,
    )
    return rho


def train(ctx: TaskContext) -> TaskResult:
    table = ctx.input("data")
    finite_features(table, ctx)
    one_host(ctx)
    X = table.features
    ctx.send("guest", "shape", {"rows": table.rows, "features": X.shape[1]}, tag="setup")
    _public_key(ctx)
    plan = check_plan(ctx, recv_checked(ctx, "guest", "plan", "setup"), table.rows)
    c = count(recv_checked(ctx, "guest", "columns", "setup"), "guest column count")
    enc_xg = ciphertexts(recv_checked(ctx, "guest", "x_guest", "setup"), table.rows * c, "guest features")
    lr, alpha = float(ctx.param("learning_rate")), float(ctx.param("alpha"))
    own = np.zeros(X.shape[1])  # our additive share of our weights
    epochs = int(ctx.param("epochs"))
    for epoch in range(epochs):
        for b, idx in enumerate(batches(table.rows, plan["batch_size"], plan["seed"], epoch)):
            rho = _batch(ctx, X, enc_xg, c, own, idx, f"e{epoch}b{b}")
            own = own - lr * (rho + alpha * own)
        ctx.progress((epoch + 1) / epochs)
    send_scores(ctx, X, own)
    return TaskResult(
        model={
            "component": np.asarray(["hetero_sshe_lr"]),
            "weight_share": own,
            "feature_names": names_array(table.feature_names),
        },
        summary={"features": float(X.shape[1])},
    )


def predict(ctx: TaskContext) -> TaskResult:
    table = ctx.input("data")
    finite_features(table, ctx)
    one_host(ctx)
    model: Any = ctx.input_models.get("model")
    if not isinstance(model, dict) or "weight_share" not in model:
        raise ComponentError(
            f"predict at party {ctx.party_id} needs its hetero_sshe_lr host model as 'model'"
        )
    if [str(n) for n in np.asarray(model["feature_names"], dtype=str)] != list(table.feature_names):
        raise ComponentError(
            f"the input table's feature columns at party {ctx.party_id} differ from the model's"
        )
    _public_key(ctx)
    send_scores(ctx, table.features, np.asarray(model["weight_share"], dtype=np.float64))
    return TaskResult(summary={"rows": float(table.rows)})
