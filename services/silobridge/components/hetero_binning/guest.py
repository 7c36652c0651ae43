"""Guest of hetero_binning: bins its own columns in the clear, decrypts only hosts' per-bin event counts."""

from __future__ import annotations

from typing import Any

import numpy as np

from silobridge.components.hetero_binning.common import (
    MAX_FEATURES,
    Bins,
    check_values,
    fit_bins,
    model_of,
    transformed,
)
from silobridge.components.registry import TaskResult
from silobridge.crypto import EncryptedVector, PrivateKey, generate_keypair
from silobridge.errors import IntegrityError
from silobridge.federation.context import TaskContext
from silobridge.ml import binning
from silobridge.ml.checks import binary_label, min_rows
from silobridge.ml.protocol import recv_checked


def _own_woe(bins: Bins, y: np.ndarray, adjustment: float) -> tuple[list[np.ndarray], np.ndarray]:
    woe, iv = [], []
    for j in range(bins.groups.shape[1]):
        g = bins.groups[:, j]
        counts = bins.counts(j)
        events = np.bincount(g, weights=y, minlength=len(counts))
        w, v = binning.woe_iv(events, counts, adjustment)
        woe.append(w)
        iv.append(v)
    return woe, np.asarray(iv)


def _host_woe(ctx: TaskContext, sk: PrivateKey, host: int, msg: Any, rows: int) -> dict[str, np.ndarray]:
    """Check a host's bins (every one at least our *k* rows), decrypt the event counts, return WOE/IV."""
    if not isinstance(msg, dict) or set(msg) != {"counts", "sizes", "events"}:
        raise IntegrityError(f"host {host} sent malformed bin sums")
    counts, sizes, events = msg["counts"], msg["sizes"], msg["events"]
    if not (isinstance(counts, np.ndarray) and isinstance(sizes, np.ndarray)) or counts.ndim != 1:
        raise IntegrityError(f"host {host} sent bin counts that are not integer vectors")
    if counts.dtype.kind not in "iu" or sizes.dtype.kind not in "iu" or sizes.ndim != 1:
        raise IntegrityError(f"host {host} sent bin counts that are not integer vectors")
    if not 1 <= len(sizes) <= MAX_FEATURES or np.any(sizes < 1) or int(sizes.sum()) != len(counts):
        raise IntegrityError(f"host {host} sent bin sizes that do not add up to its {len(counts)} bins")
    if not isinstance(events, EncryptedVector) or len(events) != len(counts):
        raise IntegrityError(f"host {host} sent {len(counts)} bin counts but no matching encrypted sums")
    per_column = np.split(counts.astype(np.int64), np.cumsum(sizes)[:-1])
    if any(int(c.sum()) != rows for c in per_column):
        raise IntegrityError(f"the bins of host {host} do not cover the guest's {rows} aligned rows")
    # Every decrypted value is a sum of our labels over one host bin: none over fewer than k rows.
    min_rows(ctx, int(counts.min()), f"hetero_binning: a bin sum of host {host}")
    decrypted = np.asarray(sk.decrypt_int(events, compute=ctx.compute), dtype=object)
    exps = events.exponents
    if np.any(exps != 0):
        raise IntegrityError(f"host {host} returned bin sums that are not integer label counts")
    ev = np.array([int(v) for v in decrypted], dtype=np.int64)
    if np.any(ev < 0) or np.any(ev > counts):
        raise IntegrityError(f"host {host} returned bin sums outside [0, bin rows]")
    adjustment = float(ctx.param("adjustment"))
    woe, iv = [], []
    for c, e in zip(per_column, np.split(ev, np.cumsum(sizes)[:-1]), strict=True):
        w, v = binning.woe_iv(e, c, adjustment)
        woe.append(w)
        iv.append(v)
    return {"woe": np.concatenate(woe), "iv": np.asarray(iv)}


def fit(ctx: TaskContext) -> TaskResult:
    table = ctx.input("data")
    y = binary_label(table, ctx)
    check_values(table, ctx)
    if y.min() == y.max():
        raise IntegrityError("hetero_binning needs both classes in the label column")
    bins = fit_bins(ctx, table.features, ctx.limits.min_rows)
    woe, iv = _own_woe(bins, y, float(ctx.param("adjustment")))
    hosts = ctx.parties_of("host")
    if hosts and bool(ctx.param("host_iv")):
        pk, sk = generate_keypair(int(ctx.param("key_bits")))
        ctx.trust_key(pk)
        enc_y = pk.encrypt_vector(y.astype(np.int64), compute=ctx.compute)
        for i, h in enumerate(hosts):
            ctx.send(h, "pubkey", pk, tag="setup")
            ctx.send(h, "min_rows", int(ctx.limits.min_rows), tag="setup")
            # Each host gets its own ciphertexts: the first the fresh encryptions, the others re-randomised.
            labels = enc_y if i == 0 else enc_y.obfuscate(compute=ctx.compute, private_key=sk)
            ctx.send(h, "labels", labels, tag="setup")
        for h in hosts:
            reply = _host_woe(ctx, sk, h, recv_checked(ctx, h, "bin_sums", "sums"), table.rows)
            ctx.send(h, "woe_iv", reply, tag="woe")
    model = model_of(ctx, table.feature_names, bins, woe, iv)
    ctx.progress(1.0)
    return TaskResult(
        tables={"data": transformed(ctx, table, model)},
        model=model,
        summary={"features": float(len(iv)), "max_iv": float(iv.max())},
    )
