"""One epoch of Hetero LR (guest, host, arbiter) simulated in one process, with either engine.

The protocol is the usual vertical LR with an arbiter (as in FATE), one mini-batch at a time:

1. host: ``u_h = X_h w_h``, sends ``[[u_h]]`` (encrypted under the arbiter's public key);
2. guest: ``[[z]] = [[u_h]] + (X_g w_g - 2y)`` where ``z = 4d`` and ``d = 0.25 (u_g + u_h) - 0.5y`` is
   the Taylor-approximated residual; re-randomises ``[[z]]`` and sends it to the host;
3. guest and host: ``[[G]] = X^T [[z]]`` over the batch, add a random mask, re-randomise, send to
   the arbiter;
4. arbiter: decrypts the masked gradients and returns them; each party unmasks and updates
   ``w -= lr * 0.25 G / |batch|``.

Both engines use identical fixed-point encodings (residuals at ``16**-8``, features at ``16**-6``)
and exact integer unmasking, so they decrypt bit-identical gradients and train identical weights:
the benchmark checks this rather than assuming it. Every ciphertext that crosses a party boundary
is freshly randomised in both engines. The fast engine also round-trips every vector through its
protobuf wire format (with validation); the ``phe`` path passes objects (no serialisation cost).

The ``phe`` path is the straightforward one: ``pk.encrypt`` per element, ``EncryptedNumber`` ``+``,
``*`` and ``obfuscate`` per term. It can be measured on a subset of rows of the first batch and
extrapolated per row (the per-batch costs -- 40 masked gradients -- are measured whole); its AUC is
then that of a fixed-point plaintext replay, which the measured rows show to be bit-identical.
"""

from __future__ import annotations

import functools
import operator
import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from silobridge.compute.base import ComputeBackend
from silobridge.crypto import EncryptedVector, PrivateKey, PublicKey, generate_keypair
from silobridge.crypto.paillier import encoding

E_U = -8  # residual / activation precision 16**-8 = 2**-32
E_X = -6  # feature precision 16**-6 = 2**-24
E_G = E_U + E_X
MASK_SCALE = 2.0**30


@dataclass
class Table:
    x: np.ndarray
    y: np.ndarray
    guest_features: int

    @property
    def xg(self) -> np.ndarray:
        return self.x[:, : self.guest_features]

    @property
    def xh(self) -> np.ndarray:
        return self.x[:, self.guest_features :]


def make_table(rows: int, features: int, seed: int = 0) -> Table:
    """Standardised Gaussian features, labels from a noisy logistic model (deterministic)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, features))
    w_true = rng.standard_normal(features) / np.sqrt(features) * 2.0
    p = 1.0 / (1.0 + np.exp(-(x @ w_true + 0.3 * rng.standard_normal(rows))))
    y = (rng.random(rows) < p).astype(np.float64)
    return Table(x, y, features // 2)


def _mantissas(values: np.ndarray, e: int) -> np.ndarray:
    out: np.ndarray = np.rint(np.ldexp(values, -4 * e)).astype(np.int64)
    return out


def _to_float(ints: list[int], e: int) -> np.ndarray:
    return encoding.decode(ints, np.full(len(ints), e, dtype=np.int64))


@dataclass
class Keys:
    arbiter: PrivateKey
    guest_pk: PublicKey  # the guest's and host's own key objects: own obfuscation bases
    host_pk: PublicKey


def make_keys(bits: int) -> Keys:
    pk, sk = generate_keypair(bits)
    return Keys(sk, PublicKey(pk.n), PublicKey(pk.n))


@dataclass
class BatchResult:
    grad_g_int: list[int]
    grad_h_int: list[int]
    phase_s: dict[str, float] = field(default_factory=dict)


def _wire(ev: EncryptedVector, receiver_key: PublicKey) -> EncryptedVector:
    data = ev.to_proto().SerializeToString()
    from silobridge.federation.v1 import values_pb2

    msg = values_pb2.PaillierVector()
    msg.ParseFromString(data)
    return EncryptedVector.from_proto(msg, receiver_key)


def fast_batch(
    xg: np.ndarray,
    xh: np.ndarray,
    y: np.ndarray,
    wg: np.ndarray,
    wh: np.ndarray,
    keys: Keys,
    compute: ComputeBackend | None,
    rng: np.random.Generator,
) -> BatchResult:
    t: dict[str, float] = {}
    t0 = time.perf_counter()
    enc_uh = keys.host_pk.encrypt_vector(xh @ wh, exponent=E_U, compute=compute)
    enc_uh = _wire(enc_uh, keys.guest_pk)
    t["host_encrypt"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    z = (enc_uh + (xg @ wg - 2.0 * y)).obfuscate(compute=compute)
    z_host = _wire(z, keys.host_pk)
    t["guest_residual"] = time.perf_counter() - t0

    grads: list[list[int]] = []
    for name, x, enc in (("guest_gradient", xg, z), ("host_gradient", xh, z_host)):
        t0 = time.perf_counter()
        g = enc.rmatmul(x, exponent=E_X, compute=compute)
        t[name] = time.perf_counter() - t0
        t0 = time.perf_counter()
        mask = rng.uniform(-MASK_SCALE, MASK_SCALE, size=len(g))
        masked = _wire((g + mask).obfuscate(compute=compute), keys.arbiter.public_key)
        t["mask_and_decrypt"] = t.get("mask_and_decrypt", 0.0) + time.perf_counter() - t0
        t0 = time.perf_counter()
        opened = keys.arbiter.decrypt_int(masked)  # arbiter
        mask_int = encoding.encode(mask, E_G, keys.arbiter.public_key.max_int, keys.arbiter.public_key.bits)
        grads.append([o - int(m) for o, m in zip(opened, np.asarray(mask_int).tolist(), strict=True)])
        t["mask_and_decrypt"] += time.perf_counter() - t0
    return BatchResult(grads[0], grads[1], t)


def phe_batch(
    xg: np.ndarray,
    xh: np.ndarray,
    y: np.ndarray,
    wg: np.ndarray,
    wh: np.ndarray,
    keys: Keys,
    rng: np.random.Generator,
) -> BatchResult:
    from phe import paillier

    pk = keys.arbiter.public_key.to_phe()
    sk = keys.arbiter.to_phe()
    n = pk.n
    t: dict[str, float] = {}

    def enc_num(m: int, e: int) -> Any:
        return paillier.EncodedNumber(pk, int(m) % n, e)

    t0 = time.perf_counter()
    enc_uh = [pk.encrypt(enc_num(m, E_U)) for m in _mantissas(xh @ wh, E_U).tolist()]
    t["host_encrypt"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    z = [
        c + enc_num(m, E_U) for c, m in zip(enc_uh, _mantissas(xg @ wg - 2.0 * y, E_U).tolist(), strict=True)
    ]
    for c in z:
        c.obfuscate()
    t["guest_residual"] = time.perf_counter() - t0

    grads: list[list[int]] = []
    for name, x in (("guest_gradient", xg), ("host_gradient", xh)):
        t0 = time.perf_counter()
        xm = _mantissas(x, E_X)
        g = [
            functools.reduce(
                operator.add, (c * enc_num(k, E_X) for c, k in zip(z, xm[:, j].tolist(), strict=True))
            )
            for j in range(x.shape[1])
        ]
        t[name] = time.perf_counter() - t0
        t0 = time.perf_counter()
        mask = rng.uniform(-MASK_SCALE, MASK_SCALE, size=len(g))
        masked = [gj + float(mj) for gj, mj in zip(g, mask, strict=True)]
        for c in masked:
            c.obfuscate()
        out = []
        mask_int = np.asarray(encoding.encode(mask, E_G, pk.max_int, n.bit_length())).tolist()
        for c, mj in zip(masked, mask_int, strict=True):
            encoded = sk.decrypt_encoded(c)
            if encoded.exponent != E_G:
                raise AssertionError(f"phe gradient exponent {encoded.exponent} != {E_G}")
            m = encoded.encoding if encoded.encoding <= pk.max_int else encoded.encoding - n
            out.append(m - int(mj))
        grads.append(out)
        t["mask_and_decrypt"] = t.get("mask_and_decrypt", 0.0) + time.perf_counter() - t0
    return BatchResult(grads[0], grads[1], t)


def replay_batch(
    xg: np.ndarray, xh: np.ndarray, y: np.ndarray, wg: np.ndarray, wh: np.ndarray
) -> BatchResult:
    """The exact integers both engines must decrypt, computed in plaintext."""
    z = (_mantissas(xh @ wh, E_U) + _mantissas(xg @ wg - 2.0 * y, E_U)).astype(object)
    g = (_mantissas(xg, E_X).astype(object).T @ z).tolist()
    h = (_mantissas(xh, E_X).astype(object).T @ z).tolist()
    return BatchResult([int(v) for v in g], [int(v) for v in h])


def _auc(table: Table, w: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(table.y, table.x @ w))


def _batches(rows: int, batch_size: int) -> list[tuple[int, int]]:
    return [(lo, min(lo + batch_size, rows)) for lo in range(0, rows, batch_size)]


def run(
    rows: int = 20000,
    features: int = 40,
    engine: str = "fast",
    *,
    key_bits: int = 2048,
    batch_size: int = 5000,
    learning_rate: float = 0.15,
    seed: int = 0,
    workers: int | None = None,
    compute: ComputeBackend | None = None,
    phe_rows: int | None = None,
    keys: Keys | None = None,
) -> dict[str, Any]:
    """One epoch; returns ``epoch_s`` and ``auc`` plus how they were obtained.

    ``engine="fast"``: this engine, chunks on ``compute`` (default: a process pool of ``workers``,
    all cores; ``workers=1`` runs in-process). ``engine="phe"``: python-paillier, single-threaded;
    with ``phe_rows`` it is timed on that many rows and extrapolated per row.
    """
    if engine not in ("fast", "phe"):
        raise ValueError(f"engine must be 'fast' or 'phe', got {engine!r}")
    table = make_table(rows, features, seed)
    keys = keys or make_keys(key_bits)
    rng = np.random.default_rng(seed + 1)
    wg = np.zeros(table.guest_features)
    wh = np.zeros(features - table.guest_features)
    batches = _batches(rows, batch_size)
    info: dict[str, Any] = {
        "engine": engine,
        "rows": rows,
        "features": features,
        "key_bits": keys.arbiter.public_key.bits,
        "batch_size": batch_size,
        "batches": len(batches),
        "learning_rate": learning_rate,
    }

    def update(res: BatchResult, lo: int, hi: int) -> None:
        nonlocal wg, wh
        scale = 0.25 / (hi - lo)
        wg = wg - learning_rate * scale * _to_float(res.grad_g_int, E_G)
        wh = wh - learning_rate * scale * _to_float(res.grad_h_int, E_G)

    if engine == "fast":
        own_backend = None
        if compute is None and (workers or os.cpu_count() or 1) > 1:
            from silobridge.compute.local import LocalBackend

            own_backend = compute = LocalBackend(workers or os.cpu_count(), processes=True)
        try:
            t0 = time.perf_counter()
            _warm(keys, compute)
            info["setup_s"] = round(time.perf_counter() - t0, 2)
            info["workers"] = compute.workers if compute is not None else 1
            phases: dict[str, float] = {}
            done: list[tuple[int, int, np.ndarray, np.ndarray, BatchResult]] = []
            t0 = time.perf_counter()
            for lo, hi in batches:
                res = fast_batch(table.xg[lo:hi], table.xh[lo:hi], table.y[lo:hi], wg, wh, keys, compute, rng)
                done.append((lo, hi, wg, wh, res))
                for k, v in res.phase_s.items():
                    phases[k] = phases.get(k, 0.0) + v
                update(res, lo, hi)
            info["epoch_s"] = round(time.perf_counter() - t0, 3)
            for lo, hi, bwg, bwh, res in done:  # checked after the clock stops
                expected = replay_batch(table.xg[lo:hi], table.xh[lo:hi], table.y[lo:hi], bwg, bwh)
                if (res.grad_g_int, res.grad_h_int) != (expected.grad_g_int, expected.grad_h_int):
                    raise AssertionError(
                        f"decrypted gradients of rows {lo}:{hi} differ from the exact fixed-point values"
                    )
            info["phase_s"] = {k: round(v, 3) for k, v in phases.items()}
            info["gradients_exact"] = True
        finally:
            if own_backend is not None:
                own_backend.close()
        info["auc"] = round(_auc(table, np.concatenate([wg, wh])), 6)
        return info

    # -- phe ---------------------------------------------------------------------------------
    if phe_rows is None or phe_rows >= rows:
        phases = {}
        t0 = time.perf_counter()
        for lo, hi in batches:
            res = phe_batch(table.xg[lo:hi], table.xh[lo:hi], table.y[lo:hi], wg, wh, keys, rng)
            for k, v in res.phase_s.items():
                phases[k] = phases.get(k, 0.0) + v
            update(res, lo, hi)
        info["epoch_s"] = round(time.perf_counter() - t0, 3)
        info["phase_s"] = {k: round(v, 3) for k, v in phases.items()}
        info["auc"] = round(_auc(table, np.concatenate([wg, wh])), 6)
        info["auc_source"] = "measured"
        return info

    lo, hi = batches[0][0], batches[0][0] + phe_rows
    sub = phe_batch(table.xg[lo:hi], table.xh[lo:hi], table.y[lo:hi], wg, wh, keys, rng)
    exact = replay_batch(table.xg[lo:hi], table.xh[lo:hi], table.y[lo:hi], wg, wh)
    identical = (sub.grad_g_int, sub.grad_h_int) == (exact.grad_g_int, exact.grad_h_int)
    if not identical:
        raise AssertionError("phe decrypted gradients differ from the exact fixed-point values")
    per_row = sum(v for k, v in sub.phase_s.items() if k != "mask_and_decrypt") / phe_rows
    per_batch = sub.phase_s["mask_and_decrypt"]  # 2 x d masked gradients: a per-batch cost
    info["epoch_s"] = round(per_row * rows + per_batch * len(batches), 3)
    info["phe_extrapolated_from_rows"] = phe_rows
    info["measured_s"] = round(sum(sub.phase_s.values()), 3)
    info["phase_s_measured"] = {k: round(v, 3) for k, v in sub.phase_s.items()}
    for b_lo, b_hi in batches:  # the weights phe would train: its gradients equal these exactly
        update(replay_batch(table.xg[b_lo:b_hi], table.xh[b_lo:b_hi], table.y[b_lo:b_hi], wg, wh), b_lo, b_hi)
    info["auc"] = round(_auc(table, np.concatenate([wg, wh])), 6)
    info["auc_source"] = "fixed-point replay; phe gradients on the measured rows are bit-identical to it"
    return info


def _warm(keys: Keys, compute: ComputeBackend | None) -> None:
    """Build fixed-base tables in this process and in every worker (once per key per process)."""
    count = 64 * (compute.workers if compute is not None else 1)
    v = keys.host_pk.encrypt_vector(np.zeros(count), exponent=E_U, compute=compute)
    keys.guest_pk.obfuscate_ciphertexts(v.ciphertexts, compute=compute)
    keys.host_pk.warm_up()
    keys.guest_pk.warm_up()
    keys.arbiter.warm_up()
