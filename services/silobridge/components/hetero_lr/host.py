"""Host of hetero-LR: encrypts its partial scores, gets encrypted residuals, masks its gradient."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from silobridge.components import homo_predict
from silobridge.components.hetero_lr.common import (
    batches,
    check_plan,
    dot,
    encrypt,
    encrypted,
    initial,
    largest_batch,
    mask,
    names_array,
    obfuscator_pool,
    optimizer,
    outgoing,
    products,
    receive_public_key,
    send_weight_diff,
    vector,
)
from silobridge.components.registry import TaskResult
from silobridge.errors import ComponentError
from silobridge.federation.context import TaskContext
from silobridge.ml.checks import finite_features, min_rows
from silobridge.ml.protocol import recv_checked
from silobridge.table import Table

if TYPE_CHECKING:
    from silobridge.crypto.paillier.pool import ObfuscatorPool


def train(ctx: TaskContext) -> TaskResult:
    table = ctx.input("data")
    finite_features(table, ctx)
    X = table.features
    pk = receive_public_key(ctx)
    ctx.send("guest", "rows", table.rows, tag="setup")
    ctx.send("arbiter", "features", X.shape[1], tag="setup")
    # The plan decides which of our rows each batch aggregates: checked, never taken as sent.
    plan = check_plan(ctx, recv_checked(ctx, "guest", "plan", "setup"), table.rows)
    w = initial(ctx, X.shape[1])
    pool = obfuscator_pool(ctx, pk, largest_batch(table.rows, plan["batch_size"]), table.rows)
    try:
        return _train(ctx, X, w, pk, pool, plan, table)
    finally:
        if pool is not None:
            pool.close()


def _train(
    ctx: TaskContext,
    X: np.ndarray,
    w: np.ndarray,
    pk: Any,
    pool: ObfuscatorPool | None,
    plan: dict[str, int],
    table: Table,
) -> TaskResult:
    alpha = float(ctx.param("alpha"))
    opt = optimizer(ctx)
    peers_before = [h for h in ctx.parties_of("host") if h < ctx.party_id]
    epochs = int(ctx.param("epochs"))
    for epoch in range(epochs):
        opt.set_epoch(epoch)
        w_start = w.copy()
        for b, idx in enumerate(batches(table.rows, plan["batch_size"], plan["seed"], epoch)):
            tag = f"e{epoch}b{b}"
            xb = X[idx]
            m = len(idx)
            u = xb @ w
            own_loss = 0.125 * float(u @ u) + m * 0.5 * alpha * float(w @ w)
            ctx.send(
                "guest",
                "forward",
                {
                    "u": encrypt(ctx, pk, u, pool),
                    "loss": outgoing(pk.encrypt_vector(np.array([own_loss]))),
                },
                tag=tag,
            )
            # Cross terms of the Taylor loss with the hosts before us: [[u_peer]] . u_own.
            for peer in peers_before:
                enc_peer = encrypted(
                    ctx, recv_checked(ctx, "guest", "peer_forward", f"{tag}p{peer}"), "peer forward"
                )
                ctx.send("guest", "cross", outgoing(dot(ctx, enc_peer, u).obfuscate()), tag=f"{tag}p{peer}")
            enc_d = encrypted(ctx, recv_checked(ctx, "guest", "residual", tag), "encrypted residual")
            if len(enc_d) != m:
                raise ComponentError(f"encrypted residual has {len(enc_d)} rows, the batch {m}")
            r = mask(X.shape[1])
            enc_g = products(ctx, enc_d, xb) * (1.0 / m)
            ctx.send("arbiter", "masked_gradient", outgoing((enc_g + r).obfuscate()), tag=tag)
            g = vector(recv_checked(ctx, "arbiter", "gradient", tag), X.shape[1], "decrypted gradient") - r
            w = opt.step(w, g + alpha * w)
        send_weight_diff(ctx, pk, w_start, w, epoch)
        stop = recv_checked(ctx, "arbiter", "stop", f"e{epoch}")
        ctx.progress((epoch + 1) / epochs)
        if bool(stop.get("stop")):
            break
    share_scores(ctx, X @ w)
    return TaskResult(
        model={"weights": w, "feature_names": names_array(table.feature_names)},
        summary={"features": float(X.shape[1])},
    )


def share_scores(ctx: TaskContext, partial: np.ndarray) -> None:
    """Standard hetero-LR prediction: the host's plaintext partial scores X_h w_h go to the guest."""
    ctx.send("guest", "partial_scores", np.asarray(partial, dtype=np.float64), tag="predict")


def predict(ctx: TaskContext) -> TaskResult:
    table = ctx.input("data")
    finite_features(table, ctx)
    w = model_weights(ctx, table.feature_names)
    min_rows(ctx, table.rows, f"predict: the partial scores of host {ctx.party_id}")
    share_scores(ctx, table.features @ w)
    return TaskResult(summary={"rows": float(table.rows)})


def model_weights(ctx: TaskContext, feature_names: list[str]) -> np.ndarray:
    model: Any = ctx.input_models.get("model")
    homo = homo_predict.component_of(model)
    if homo is not None:  # refused before a partial score is computed, let alone sent
        raise ComponentError(
            f"a {homo} model scores one party's own rows: party {ctx.party_id} sends no partial "
            "scores for it (run predict with that party as the only guest and no hosts)"
        )
    if not isinstance(model, dict) or "weights" not in model:
        raise ComponentError(f"predict at party {ctx.party_id} needs a hetero_lr model input named 'model'")
    w = np.asarray(model["weights"], dtype=np.float64).ravel()
    names = [str(x) for x in np.asarray(model.get("feature_names", []), dtype=str)]
    if names and names != list(feature_names):
        raise ComponentError(
            f"the input table's feature columns at party {ctx.party_id} differ from the model's "
            f"({len(feature_names)} vs {len(names)} columns)"
        )
    if len(w) != len(feature_names):
        raise ComponentError(f"model has {len(w)} weights but the table {len(feature_names)} feature columns")
    return w
