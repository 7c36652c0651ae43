"""Per-operation throughput of this engine and of ``phe`` (with gmpy2), on the same key and inputs.

``decrypt`` decrypts the same 53-bit values as every other row; ``decrypt_full_range`` decrypts
plaintexts spread over the whole encoding range (|m| up to n/3), where this engine needs both CRT
halves like ``phe`` does.

Both engines run single-threaded here: the ratios measure the algorithms, not parallelism (the
compute backends are measured by ``ray_scaling``). Inputs are signed integers below 2**53 so that
``phe`` uses exponent 0 everywhere and pays no exponent alignment: its best case.

``phe`` has no key-holder fast path; its ``pk.encrypt`` is the baseline for both encryption rows.
Fixed-base tables are built before timing and their one-off cost is reported as ``setup_s``.
"""

from __future__ import annotations

import functools
import operator
import random
import time
from typing import Any

import numpy as np

from silobridge.bench.timing import interleaved
from silobridge.crypto import EncryptedVector, PrivateKey, PublicKey, generate_keypair

OPS = (
    "encrypt_public",
    "encrypt_keyholder",
    "decrypt",
    "add",
    "mul_scalar",
    "dot_product",
    "decrypt_full_range",
)
DOT_TERMS = 1000
SCALAR_BITS = 53


def _counts(bits: int, scale: float) -> dict[str, int]:
    """Operations per timed call, sized for ~0.3 s per call on a 2-core 2020s server."""
    small = bits <= 1024
    base = {
        "phe_encrypt": 200 if small else 40,
        "encrypt_public": 1000 if small else 250,
        "encrypt_keyholder": 3000 if small else 700,
        "decrypt": 600 if small else 120,
        "add": 30000 if small else 15000,
        "mul_scalar": 2000 if small else 600,
        "dot_calls_phe": 1,
        "dot_calls_fast": 8 if small else 6,
    }
    return {k: max(1, int(v * scale)) for k, v in base.items()}


def run(bits: int, *, rounds: int = 3, scale: float = 1.0, seed: int = 7) -> dict[str, Any]:
    rng = random.Random(seed)
    counts = _counts(bits, scale)
    t0 = time.perf_counter()
    holder_pk, sk = generate_keypair(bits)
    keygen_s = time.perf_counter() - t0
    # The public-key holder is another party: its own key object, its own obfuscation base.
    pub = PublicKey(holder_pk.n)
    phe_pk = pub.to_phe()
    phe_sk = sk.to_phe()

    t0 = time.perf_counter()
    pub.warm_up()
    setup_public_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    sk.warm_up()
    setup_keyholder_s = time.perf_counter() - t0

    def ints(k: int) -> np.ndarray:
        return np.array(
            [rng.randrange(-(2**SCALAR_BITS) + 1, 2**SCALAR_BITS) for _ in range(k)], dtype=np.int64
        )

    results: dict[str, dict[str, float]] = {}
    rates: dict[str, dict[str, list[float]]] = {}

    def record(op: str, m: Any) -> None:
        results[op] = {"fast": m.median("fast"), "phe": m.median("phe")}
        rates[op] = m.rates

    # -- encryption ---------------------------------------------------------------------------
    x_phe = ints(counts["phe_encrypt"]).tolist()
    x_pub = ints(counts["encrypt_public"])
    x_key = ints(counts["encrypt_keyholder"])
    m = interleaved(
        {
            "phe": (len(x_phe), lambda: [phe_pk.encrypt(v) for v in x_phe]),
            "fast": (len(x_pub), lambda: pub.encrypt_vector(x_pub)),
            "fast_keyholder": (len(x_key), lambda: sk.encrypt_vector(x_key)),
        },
        rounds,
    )
    results["encrypt_public"] = {"fast": m.median("fast"), "phe": m.median("phe")}
    results["encrypt_keyholder"] = {"fast": m.median("fast_keyholder"), "phe": m.median("phe")}
    rates["encrypt"] = m.rates

    # -- decryption ----------------------------------------------------------------------------
    dec_ev = sk.encrypt_vector(ints(counts["decrypt"]))
    dec_phe = dec_ev.to_phe()
    m = interleaved(
        {
            "phe": (len(dec_phe), lambda: [phe_sk.decrypt(c) for c in dec_phe]),
            "fast": (len(dec_ev), lambda: sk.decrypt_vector(dec_ev)),
        },
        rounds,
    )
    record("decrypt", m)

    # -- decryption of full-range plaintexts (|m| up to n/3): no small-plaintext shortcut applies --
    big = [rng.randrange(-sk.public_key.max_int, sk.public_key.max_int) for _ in range(counts["decrypt"])]
    big_ev = sk.encrypt_vector(np.array(big, dtype=object))
    big_phe = big_ev.to_phe()
    m = interleaved(
        {
            "phe": (len(big_phe), lambda: [phe_sk.decrypt(c) for c in big_phe]),
            "fast": (len(big_ev), lambda: sk.decrypt_int(big_ev)),
        },
        rounds,
    )
    record("decrypt_full_range", m)

    # -- ciphertext + ciphertext -----------------------------------------------------------------
    a = sk.encrypt_vector(ints(counts["add"]))
    b = sk.encrypt_vector(ints(counts["add"]))
    a_phe, b_phe = a.to_phe(), b.to_phe()
    m = interleaved(
        {
            "phe": (len(a_phe), lambda: [u + v for u, v in zip(a_phe, b_phe, strict=True)]),
            "fast": (len(a), lambda: a + b),
        },
        rounds,
    )
    record("add", m)

    # -- ciphertext x 53-bit scalar ---------------------------------------------------------------
    c = sk.encrypt_vector(ints(counts["mul_scalar"]))
    c_phe = c.to_phe()
    ks = ints(counts["mul_scalar"])
    ks_list = ks.tolist()
    m = interleaved(
        {
            "phe": (len(c_phe), lambda: [u * k for u, k in zip(c_phe, ks_list, strict=True)]),
            "fast": (len(c), lambda: c.mul(ks)),
        },
        rounds,
    )
    record("mul_scalar", m)

    # -- encrypted dot product over 1,000 terms (ops = terms) --------------------------------------
    d = sk.encrypt_vector(ints(DOT_TERMS) // 1024)
    d_phe = d.to_phe()
    w = ints(DOT_TERMS)
    w_list = w.tolist()

    def phe_dot() -> None:
        for _ in range(counts["dot_calls_phe"]):
            functools.reduce(operator.add, (u * k for u, k in zip(d_phe, w_list, strict=True)))

    def fast_dot() -> None:
        for _ in range(counts["dot_calls_fast"]):
            d.dot(w)

    m = interleaved(
        {
            "phe": (DOT_TERMS * counts["dot_calls_phe"], phe_dot),
            "fast": (DOT_TERMS * counts["dot_calls_fast"], fast_dot),
        },
        rounds,
    )
    record("dot_product", m)

    _check_agreement(sk, d, d_phe, w_list, a, a_phe, b_phe)

    return {
        "key_bits": bits,
        "keygen_s": round(keygen_s, 3),
        "setup_s": {
            "public_table": round(setup_public_s, 3),
            "keyholder_tables": round(setup_keyholder_s, 3),
        },
        "ratio_vs_phe": {op: round(results[op]["fast"] / results[op]["phe"], 3) for op in OPS},
        "ops_per_s": {op: round(results[op]["fast"], 1) for op in OPS},
        "ops_per_s_phe": {op: round(results[op]["phe"], 1) for op in OPS},
        "dot_product_terms": DOT_TERMS,
        "rounds": rounds,
        "samples_ops_per_s": {
            k: {e: [round(v, 1) for v in vs] for e, vs in r.items()} for k, r in rates.items()
        },
    }


def _check_agreement(
    sk: PrivateKey,
    d: EncryptedVector,
    d_phe: list[Any],
    w: list[int],
    a: EncryptedVector,
    a_phe: list[Any],
    b_phe: list[Any],
) -> None:
    """Both engines must compute the same plaintexts, or the timings mean nothing."""
    phe_sk = sk.to_phe()
    ours = sk.decrypt_int(d.dot(np.array(w, dtype=np.int64)))[0]
    theirs = phe_sk.decrypt(
        functools.reduce(operator.add, (u * k for u, k in zip(d_phe[:50], w[:50], strict=True)))
    )
    ours_50 = sk.decrypt_int(d[:50].dot(np.array(w[:50], dtype=np.int64)))[0]
    if ours_50 != theirs:
        raise AssertionError(f"dot products disagree: {ours_50} != {theirs}")
    expected = sum(int(x) * k for x, k in zip(sk.decrypt_int(d), w, strict=True))
    if ours != expected:
        raise AssertionError("engine dot product disagrees with the plaintext dot product")
    if phe_sk.decrypt(a_phe[0] + b_phe[0]) != sk.decrypt_int(a[:1])[0] + phe_sk.decrypt(b_phe[0]):
        raise AssertionError("additions disagree")
