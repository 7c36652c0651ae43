"""Arbiter of hetero-LR: holds the private key, decrypts masked gradients and the scalar loss."""

from __future__ import annotations

import numpy as np

from silobridge.components.hetero_lr.common import batches, encrypted, generate_keys
from silobridge.components.registry import TaskResult
from silobridge.errors import IntegrityError
from silobridge.federation.context import TaskContext
from silobridge.ml.protocol import recv_checked


def train(ctx: TaskContext) -> TaskResult:
    key_bits = int(ctx.param("key_bits"))
    pk, sk = generate_keys(ctx)
    ctx.trust_key(pk)
    ctx.send("guest", "pubkey", pk, tag="setup")
    ctx.send("host", "pubkey", pk, tag="setup")
    plan = recv_checked(ctx, "guest", "plan", "setup")
    if not isinstance(plan, dict) or not {"rows", "batch_size", "seed"} <= set(plan):
        raise IntegrityError("the guest sent a malformed training plan")
    parties = ctx.parties_of("guest") + ctx.parties_of("host")
    epochs, tol, early = int(ctx.param("epochs")), float(ctx.param("tol")), bool(ctx.param("early_stop"))
    previous: float | None = None
    for epoch in range(epochs):
        total, rows = 0.0, 0
        for b, idx in enumerate(
            batches(int(plan["rows"]), int(plan["batch_size"]), int(plan["seed"]), epoch)
        ):
            tag = f"e{epoch}b{b}"
            enc_loss = encrypted(ctx, recv_checked(ctx, "guest", "loss", tag), "encrypted loss")
            total += float(sk.decrypt_vector(enc_loss)[0]) * len(idx)
            rows += len(idx)
            for party in parties:
                enc_g = encrypted(ctx, recv_checked(ctx, party, "masked_gradient", tag), "masked gradient")
                ctx.send(party, "gradient", sk.decrypt_vector(enc_g, compute=ctx.compute), tag=tag)
        loss = total / rows
        ctx.log_metric("loss", loss, epoch)
        stop = early and previous is not None and abs(previous - loss) < tol
        previous = loss
        ctx.send("guest", "stop", {"stop": stop, "loss": loss}, tag=f"e{epoch}")
        ctx.send("host", "stop", {"stop": stop}, tag=f"e{epoch}")
        ctx.progress((epoch + 1) / epochs)
        if stop:
            break
    return TaskResult(model={"key_bits": np.array([key_bits])}, summary={"loss": float(previous or 0.0)})
