"""Host of hetero_binning: bins its own columns, sums the guest's encrypted labels per bin."""

from __future__ import annotations

import numpy as np

from silobridge.components.hetero_binning.common import check_values, fit_bins, model_of, transformed
from silobridge.components.registry import TaskResult
from silobridge.crypto import EncryptedVector, PublicKey
from silobridge.errors import ComponentError, IntegrityError
from silobridge.federation.context import TaskContext
from silobridge.ml.checks import min_rows
from silobridge.ml.protocol import recv_checked

MAX_GUEST_K = 1_000_000


def _setup(ctx: TaskContext, rows: int) -> tuple[EncryptedVector, int]:
    pk = recv_checked(ctx, "guest", "pubkey", "setup")
    if not isinstance(pk, PublicKey):
        raise IntegrityError("the guest sent no Paillier public key")
    if pk.bits < int(ctx.param("key_bits")):
        raise IntegrityError(f"the guest's key has {pk.bits} bits, the job accepted {ctx.param('key_bits')}")
    ctx.trust_key(pk)
    k = recv_checked(ctx, "guest", "min_rows", "setup")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_GUEST_K:
        raise IntegrityError(f"the guest declared an invalid minimum aggregation size {k!r}")
    labels = recv_checked(ctx, "guest", "labels", "setup")
    if not isinstance(labels, EncryptedVector) or len(labels) != rows:
        raise ComponentError(
            f"the guest sent {len(labels) if isinstance(labels, EncryptedVector) else 'no'} encrypted "
            f"labels, party {ctx.party_id} holds {rows} rows (run psi first)"
        )
    return labels, k


def fit(ctx: TaskContext) -> TaskResult:
    table = ctx.input("data")
    check_values(table, ctx)
    if not ctx.parties_of("guest") or not bool(ctx.param("host_iv")):
        bins = fit_bins(ctx, table.features, ctx.limits.min_rows)
        model = model_of(ctx, table.feature_names, bins, None, None)
        return TaskResult(tables={"data": transformed(ctx, table, model)}, model=model)
    labels, guest_k = _setup(ctx, table.rows)
    min_rows(ctx, table.rows, f"hetero_binning: the bins of host {ctx.party_id}")
    # Bins of fewer rows than either party's k are merged here, before any sum is formed.
    bins = fit_bins(ctx, table.features, max(ctx.limits.min_rows, guest_k))
    rng = np.random.default_rng()
    perms, counts, sums = [], [], []
    for j in range(table.features.shape[1]):
        size = int(bins.mapping[j].max()) + 1
        perm = rng.permutation(size)  # the guest sees this column's bins in a random order
        shuffled = np.argsort(perm)[bins.groups[:, j]]
        perms.append(perm)
        counts.append(bins.counts(j)[perm])
        sums.append(labels.group_sum(shuffled, size))
    events = EncryptedVector.concatenate(sums).obfuscate(compute=ctx.compute)
    sizes = np.array([len(p) for p in perms], dtype=np.int64)
    ctx.send(
        "guest",
        "bin_sums",
        {"counts": np.concatenate(counts).astype(np.int64), "sizes": sizes, "events": events},
        tag="sums",
    )
    reply = recv_checked(ctx, "guest", "woe_iv", "woe")
    if not isinstance(reply, dict) or set(reply) != {"woe", "iv"}:
        raise IntegrityError("the guest sent a malformed WOE/IV reply")
    woe_flat, iv = reply["woe"], reply["iv"]
    if not isinstance(woe_flat, np.ndarray) or woe_flat.shape != (int(sizes.sum()),):
        raise IntegrityError("the guest sent WOE values for another number of bins")
    if not isinstance(iv, np.ndarray) or iv.shape != (len(sizes),) or not np.all(np.isfinite(woe_flat)):
        raise IntegrityError("the guest sent IVs for another number of columns, or non-finite values")
    woe = [w[np.argsort(p)] for w, p in zip(np.split(woe_flat, np.cumsum(sizes)[:-1]), perms, strict=True)]
    model = model_of(ctx, table.feature_names, bins, woe, iv.astype(np.float64))
    ctx.progress(1.0)
    return TaskResult(
        tables={"data": transformed(ctx, table, model)},
        model=model,
        summary={"features": float(len(iv)), "max_iv": float(iv.max())},
    )
