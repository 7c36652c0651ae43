"""Packing a (g, h) column pair vs encrypting the two columns separately, plus an exactness check.

The pair is encrypted by the key holder (in SecureBoost the guest owns the key and encrypts its
gradients and hessians), with the CRT path in both variants.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from silobridge.crypto import PackedEncoder, generate_keypair


def run(bits: int = 2048, rows: int = 10_000, bins: int = 32, seed: int = 3) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    _, sk = generate_keypair(bits)
    sk.warm_up()
    g = rng.uniform(-1.0, 1.0, rows)
    h = rng.uniform(0.0, 0.25, rows)
    encoder = PackedEncoder([(-1.0, 1.0), (0.0, 0.25)], max_rows=rows)

    t0 = time.perf_counter()
    enc_g = sk.encrypt_vector(g)
    t_g = time.perf_counter() - t0
    t0 = time.perf_counter()
    packed = encoder.encrypt(sk, np.column_stack([g, h]))
    t_packed = time.perf_counter() - t0
    t0 = time.perf_counter()
    enc_h = sk.encrypt_vector(h)
    t_h = time.perf_counter() - t0

    # Histogram sums over random bins, decrypted and compared with the exact quantized sums.
    groups = rng.integers(0, bins, rows)
    sums = encoder.decrypt(sk, packed.group_sum(groups, bins))
    q = np.array(encoder.quantize(np.column_stack([g, h])), dtype=object)
    exact = all(
        sums.quantized[b] == [int(v) for v in q[groups == b].sum(axis=0)]
        and sums.counts[b] == int((groups == b).sum())
        for b in range(bins)
    )
    max_abs_err = float(
        np.max(
            np.abs(
                sums.values - np.array([[g[groups == b].sum(), h[groups == b].sum()] for b in range(bins)])
            )
        )
    )
    separate_s = t_g + t_h
    return {
        "key_bits": bits,
        "rows": rows,
        "slots": encoder.slots,
        "bits_per_slot": encoder.bits,
        "ciphertexts_packed": len(packed),
        "ciphertexts_separate": len(enc_g) + len(enc_h),
        "ciphertext_ratio": round(len(packed) / (len(enc_g) + len(enc_h)), 3),
        "time_packed_s": round(t_packed, 3),
        "time_separate_s": round(separate_s, 3),
        "time_ratio": round(t_packed / separate_s, 3),
        "histogram_bins": bins,
        "histogram_sums_exact": bool(exact),
        "histogram_max_abs_error_vs_float_sum": max_abs_err,
    }
