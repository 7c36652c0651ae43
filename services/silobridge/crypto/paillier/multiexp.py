"""Multi-exponentiation ``prod_i b_i**k_i mod M`` by Pippenger's bucket method.

One exponentiation per term costs about ``|k|`` squarings plus ``|k|/5`` multiplications per term.
The bucket method cuts the scalars into ``c``-bit windows; per window every base is multiplied into
the bucket of its digit (one multiplication per term), and the buckets are combined with a running
product (``2 * 2**c`` multiplications per window, shared by all terms). For N = 1,000 terms of
53 bits that is about 10 multiplications per term instead of about 65.

Negative scalars: ``b**k`` with ``k < 0`` is written ``b**(k + 2**B) * b**(-2**B)`` so every
exponent stays a ``B``-bit non-negative number and one inversion of the product of the negative
terms' bases fixes the result; when many columns share the bases (``X^T @ enc``) the bases are
inverted once with Montgomery's batch inversion instead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import gmpy2
import numpy as np
from gmpy2 import mpz

from silobridge.errors import CryptoError

ONE = mpz(1)
# Below this many terms a plain exponentiation per term is as fast as the bucket method.
DIRECT_TERMS = 4
_INT64_SAFE_BITS = 62


def invert(x: mpz, modulus: mpz) -> mpz:
    try:
        return gmpy2.invert(x, modulus)
    except ZeroDivisionError:
        raise CryptoError("ciphertext is not invertible modulo n^2 (malformed ciphertext)") from None


def batch_invert(xs: Sequence[mpz], modulus: mpz) -> list[mpz]:
    """Inverses of all ``xs`` with one modular inversion and three multiplications each."""
    if not xs:
        return []
    prefix = [xs[0]]
    for x in xs[1:]:
        prefix.append(prefix[-1] * x % modulus)
    inv = invert(prefix[-1], modulus)
    out = [ONE] * len(xs)
    for i in range(len(xs) - 1, 0, -1):
        out[i] = inv * prefix[i - 1] % modulus
        inv = inv * xs[i] % modulus
    out[0] = inv
    return out


def choose_window(n_terms: int, bits: int) -> int:
    """Window width minimising the multiplications of the bucket method.

    Per window: one per term into its bucket, then the running product over the ``k`` non-empty
    buckets, where a gap of ``g`` empty buckets costs a ``log2(g)``-bit power.
    """
    best_c, best_cost = 1, math.inf
    for c in range(1, 17):
        windows = -(-bits // c)
        k = min((1 << c) - 1, max(n_terms, 1))
        gap_cost = max(1.0, c - math.log2(k))
        cost = windows * (n_terms + k * (1.0 + gap_cost))
        if cost < best_cost:
            best_c, best_cost = c, cost
    return best_c


def _scalar_array(scalars: Sequence[int] | np.ndarray) -> tuple[np.ndarray | list[int], int]:
    """The scalars as uint64 (fast digit extraction) when they fit, else as Python ints; plus max bits."""
    if isinstance(scalars, np.ndarray) and scalars.dtype.kind in "iu":
        arr = scalars.astype(np.uint64, copy=False)
        bits = int(arr.max()).bit_length() if arr.size else 0
        return arr, bits
    ints = [int(k) for k in scalars]
    bits = max((k.bit_length() for k in ints), default=0)
    if bits <= _INT64_SAFE_BITS:
        return np.array(ints, dtype=np.uint64), bits
    return ints, bits


def msm(bases: Sequence[mpz], scalars: Sequence[int] | np.ndarray, modulus: mpz) -> mpz:
    """``prod_i bases[i]**scalars[i] mod modulus`` for non-negative scalars (Pippenger)."""
    n_terms = len(bases)
    if n_terms != len(scalars):
        raise CryptoError(f"multi-exponentiation needs one scalar per base: {n_terms} != {len(scalars)}")
    if n_terms == 0:
        return ONE
    arr, bits = _scalar_array(scalars)
    if bits == 0:
        return ONE
    if n_terms <= DIRECT_TERMS:
        direct = ONE
        for b, k in zip(bases, arr, strict=True):
            if k:
                direct = direct * gmpy2.powmod(b, int(k), modulus) % modulus
        return direct
    c = choose_window(n_terms, bits)
    windows = -(-bits // c)
    mask = (1 << c) - 1
    acc: mpz | None = None
    for j in range(windows - 1, -1, -1):
        if isinstance(arr, np.ndarray):
            digits = ((arr >> np.uint64(j * c)) & np.uint64(mask)).astype(np.int64)
        else:
            shift = j * c
            digits = np.array([(k >> shift) & mask for k in arr], dtype=np.int64)
        window_product = _bucket_window(bases, digits, modulus)
        if acc is None:
            acc = window_product
        else:
            acc = gmpy2.powmod(acc, 1 << c, modulus)
            if window_product != ONE:
                acc = acc * window_product % modulus
    return ONE if acc is None else acc


def _bucket_window(bases: Sequence[mpz], digits: np.ndarray, modulus: mpz) -> mpz:
    """``prod_i bases[i]**digits[i]`` for small digits: bucket products then a running product."""
    order = np.argsort(digits, kind="stable")
    sorted_digits = digits[order]
    starts = np.flatnonzero(np.diff(sorted_digits)) + 1
    bounds = [0, *starts.tolist(), len(order)]
    order_list = order.tolist()
    groups: list[tuple[int, mpz]] = []
    for g in range(len(bounds) - 1):
        lo, hi = bounds[g], bounds[g + 1]
        d = int(sorted_digits[lo])
        if d == 0:
            continue
        idx = order_list[lo:hi]
        bucket = bases[idx[0]]
        for i in idx[1:]:
            bucket = bucket * bases[i] % modulus
        groups.append((d, bucket))
    if not groups:
        return ONE
    # sum_d d*B_d = sum_t R_t with R_t = prod_{d >= t} B_d; R is constant between non-empty buckets.
    running: mpz | None = None
    total: mpz | None = None
    for g in range(len(groups) - 1, -1, -1):
        d, bucket = groups[g]
        running = bucket if running is None else running * bucket % modulus
        gap = d - (groups[g - 1][0] if g > 0 else 0)
        term = running if gap == 1 else gmpy2.powmod(running, gap, modulus)
        total = term if total is None else total * term % modulus
    assert total is not None
    return total


def signed_msm(bases: Sequence[mpz], scalars: Sequence[int] | np.ndarray, modulus: mpz) -> mpz:
    """``prod_i bases[i]**scalars[i]`` for signed scalars: offset negatives by 2**B, one inversion."""
    if isinstance(scalars, np.ndarray) and scalars.dtype.kind in "iu":
        ks = scalars.astype(np.int64, copy=False)
        neg = ks < 0
        if not neg.any():
            return msm(bases, ks, modulus)
        bits = int(np.abs(ks).max()).bit_length()
        if bits <= _INT64_SAFE_BITS:
            offset = np.int64(1) << np.int64(bits)
            shifted = np.where(neg, ks + offset, ks)
            neg_idx = np.flatnonzero(neg).tolist()
            return _apply_negative_correction(msm(bases, shifted, modulus), bases, neg_idx, bits, modulus)
        ints = [int(k) for k in ks]
    else:
        ints = [int(k) for k in scalars]
    neg_idx = [i for i, k in enumerate(ints) if k < 0]
    if not neg_idx:
        return msm(bases, ints, modulus)
    bits = max(abs(k).bit_length() for k in ints)
    offset_int = 1 << bits
    shifted_ints = [k + offset_int if k < 0 else k for k in ints]
    return _apply_negative_correction(msm(bases, shifted_ints, modulus), bases, neg_idx, bits, modulus)


def _apply_negative_correction(
    value: mpz, bases: Sequence[mpz], neg_idx: list[int], bits: int, modulus: mpz
) -> mpz:
    prod = bases[neg_idx[0]]
    for i in neg_idx[1:]:
        prod = prod * bases[i] % modulus
    correction = invert(gmpy2.powmod(prod, 1 << bits, modulus), modulus)
    return value * correction % modulus


def multi_column_msm(bases: Sequence[mpz], scalars: np.ndarray, modulus: mpz) -> list[mpz]:
    """``[prod_i bases[i]**scalars[i, j] for j]``: ``X^T @ enc`` with X given as signed integers.

    ``scalars`` is an (n, d) int64 or object array. With many columns the bases are inverted once
    (3 multiplications each) so negative scalars pick the inverted base; with few columns each
    column uses the cheaper offset-and-correct trick.
    """
    if scalars.ndim != 2 or scalars.shape[0] != len(bases):
        raise CryptoError(f"scalar matrix of shape {scalars.shape} does not match {len(bases)} ciphertexts")
    n_terms, n_cols = scalars.shape
    if n_terms == 0:
        return [ONE] * n_cols
    is_int = scalars.dtype.kind in "iu"
    neg = (scalars < 0) if is_int else np.vectorize(lambda k: int(k) < 0, otypes=[bool])(scalars)
    neg_count = int(neg.sum())
    # Offset trick: ~neg_count extra multiplications; batch inversion: 3 * n_terms once.
    if neg_count <= 3 * n_terms:
        return [signed_msm(bases, scalars[:, j], modulus) for j in range(n_cols)]
    inverses = batch_invert(list(bases), modulus)
    out: list[mpz] = []
    for j in range(n_cols):
        col_neg = neg[:, j]
        column_bases = [inverses[i] if s else bases[i] for i, s in enumerate(col_neg.tolist())]
        col = scalars[:, j]
        mags: np.ndarray = np.abs(col) if is_int else np.array([abs(int(k)) for k in col], dtype=object)
        out.append(msm(column_bases, mags, modulus))
    return out
