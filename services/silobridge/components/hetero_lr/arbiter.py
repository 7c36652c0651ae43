"""Arbiter of hetero-LR: holds the private key, decrypts masked gradients and the scalar loss.

The arbiter is a decryption service, so it decrypts only what the protocol defines: per batch
tag, one loss of length 1 from the guest and one gradient per data party whose length is the
feature count that party declared at setup (+1 for the guest's intercept). Anything else is
refused, written to the audit log, and fails the job (see :class:`DecryptionGuard`).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from silobridge.components.hetero_lr.common import (
    batches,
    check_plan,
    encrypted,
    generate_keys,
    wants_weight_diff,
)
from silobridge.components.registry import TaskResult
from silobridge.errors import DisclosureRefused, IntegrityError
from silobridge.federation.context import TaskContext
from silobridge.ml.optim import converged
from silobridge.ml.protocol import recv_checked

audit = logging.getLogger("silobridge.audit")

MAX_FEATURES = 1_000_000


class DecryptionGuard:
    """What this arbiter will decrypt: ``lengths[(party, name)]`` values, once per batch tag."""

    def __init__(self, ctx: TaskContext, lengths: dict[tuple[int, str], int]) -> None:
        self.ctx = ctx
        self.lengths = dict(lengths)
        self._done: set[tuple[int, str, str]] = set()

    def admit(self, party: int, name: str, tag: str, vector: Any) -> None:
        expected = self.lengths.get((party, name))
        if expected is None:
            self._refuse(party, name, tag, len(vector), "the protocol decrypts no such vector for it")
        elif (party, name, tag) in self._done:
            self._refuse(party, name, tag, len(vector), "it was already decrypted once for this batch")
        elif len(vector) != expected:
            self._refuse(party, name, tag, len(vector), f"the protocol defines {expected} values for it")
        self._done.add((party, name, tag))

    def _refuse(self, party: int, name: str, tag: str, size: int, why: str) -> None:
        ctx = self.ctx
        reason = (
            f"arbiter party {ctx.party_id} refused to decrypt {name} from party {party} "
            f"(tag {tag}): {size} values, but {why}"
        )
        audit.warning(
            reason,
            extra={
                "event": "decryption_refused",
                "job_id": ctx.job_id,
                "task": ctx.task_name,
                "src_party": party,
                "var_name": name,
                "tag": tag,
                "size": size,
            },
        )
        raise DisclosureRefused(reason)


def _declared_features(ctx: TaskContext, party: int) -> int:
    value = recv_checked(ctx, party, "features", "setup")
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_FEATURES:
        raise IntegrityError(f"party {party} declared an invalid feature count {value!r}")
    return value


def _weight_diff(ctx: TaskContext, guard: DecryptionGuard, sk: Any, parties: list[int], epoch: int) -> float:
    """Norm of the whole model's weight change in ``epoch``: the sum of the parties' encrypted squares."""
    tag = f"e{epoch}"
    total = None
    for party in parties:
        enc = encrypted(ctx, recv_checked(ctx, party, "weight_diff", tag), "encrypted weight change")
        guard.admit(party, "weight_diff", tag, enc)
        total = enc if total is None else total + enc
    assert total is not None
    return float(np.sqrt(max(0.0, float(sk.decrypt_vector(total)[0]))))


def train(ctx: TaskContext) -> TaskResult:
    key_bits = int(ctx.param("key_bits"))
    pk, sk = generate_keys(ctx)
    ctx.trust_key(pk)
    ctx.send("guest", "pubkey", pk, tag="setup")
    ctx.send("host", "pubkey", pk, tag="setup")
    plan = check_plan(ctx, recv_checked(ctx, "guest", "plan", "setup"))
    (guest,) = ctx.parties_of("guest")
    parties = [guest, *ctx.parties_of("host")]
    lengths = {(p, "masked_gradient"): _declared_features(ctx, p) for p in parties}
    lengths[(guest, "masked_gradient")] += 1  # the guest's intercept
    lengths[(guest, "loss")] = 1
    weight_diff = wants_weight_diff(ctx)
    if weight_diff:
        lengths |= {(p, "weight_diff"): 1 for p in parties}
    guard = DecryptionGuard(ctx, lengths)
    epochs, tol, early = int(ctx.param("epochs")), float(ctx.param("tol")), bool(ctx.param("early_stop"))
    test = str(ctx.param("convergence", "diff"))
    previous: float | None = None
    for epoch in range(epochs):
        total, rows = 0.0, 0
        for b, idx in enumerate(batches(plan["rows"], plan["batch_size"], plan["seed"], epoch)):
            tag = f"e{epoch}b{b}"
            # Gradients first: the guest computes its loss while its gradient is on the way back.
            for party in parties:
                enc_g = encrypted(ctx, recv_checked(ctx, party, "masked_gradient", tag), "masked gradient")
                guard.admit(party, "masked_gradient", tag, enc_g)
                ctx.send(party, "gradient", sk.decrypt_vector(enc_g), tag=tag)
            enc_loss = encrypted(ctx, recv_checked(ctx, guest, "loss", tag), "encrypted loss")
            guard.admit(guest, "loss", tag, enc_loss)
            total += float(sk.decrypt_vector(enc_loss)[0]) * len(idx)
            rows += len(idx)
        loss = total / rows
        ctx.log_metric("loss", loss, epoch)
        diff = _weight_diff(ctx, guard, sk, parties, epoch) if weight_diff else None
        stop = early and converged(test, tol, loss, previous, diff)
        previous = loss
        ctx.send("guest", "stop", {"stop": stop, "loss": loss}, tag=f"e{epoch}")
        ctx.send("host", "stop", {"stop": stop}, tag=f"e{epoch}")
        ctx.progress((epoch + 1) / epochs)
        if stop:
            break
    return TaskResult(model={"key_bits": np.array([key_bits])}, summary={"loss": float(previous or 0.0)})
