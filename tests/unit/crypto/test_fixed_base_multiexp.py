"""The arithmetic kernels against GMP's generic exponentiation."""

from __future__ import annotations

import gmpy2
import numpy as np
import pytest
from gmpy2 import mpz
from hypothesis import given, settings
from hypothesis import strategies as st

from silobridge.crypto.paillier.fixed_base import FixedBaseTable
from silobridge.crypto.paillier.multiexp import batch_invert, choose_window, msm, multi_column_msm, signed_msm
from silobridge.errors import CryptoError

P = mpz(gmpy2.next_prime(2**127 + 12345))
Q = mpz(gmpy2.next_prime(2**128 + 999))
N2 = (P * Q) ** 2


def naive(bases: list[mpz], ks: list[int]) -> mpz:
    acc = mpz(1)
    for b, k in zip(bases, ks, strict=True):
        acc = acc * gmpy2.powmod(b, k, N2) % N2
    return acc


@pytest.mark.parametrize("window", [4, 8, 12])
@settings(max_examples=20, deadline=None)
@given(e=st.integers(min_value=0, max_value=2**300 - 1))
def test_fixed_base_matches_powmod(window: int, e: int) -> None:
    table = _table(window)
    assert table.pow(e) == gmpy2.powmod(table.base, e, N2)


_TABLES: dict[int, FixedBaseTable] = {}


def _table(window: int) -> FixedBaseTable:
    if window not in _TABLES:
        _TABLES[window] = FixedBaseTable(mpz(3) ** 101, N2, 300, window)
    return _TABLES[window]


def test_fixed_base_rejects_bad_parameters() -> None:
    with pytest.raises(CryptoError, match="window"):
        FixedBaseTable(3, N2, 100, window=5)
    with pytest.raises(CryptoError, match="exceeds"):
        _table(8).pow(2**300)
    assert _table(8).check()


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.integers(min_value=-(2**80), max_value=2**80), min_size=0, max_size=70), st.integers(0, 2**32)
)
def test_signed_msm_matches_naive(ks: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    bases = [mpz(int(v)) for v in rng.integers(2, 2**62, size=len(ks))]
    expected = naive(bases, ks)
    assert signed_msm(bases, ks, N2) == expected
    if all(abs(k) < 2**62 for k in ks):
        assert signed_msm(bases, np.array(ks, dtype=np.int64), N2) == expected
    if all(k >= 0 for k in ks):
        assert msm(bases, ks, N2) == expected


def test_multi_column_both_strategies() -> None:
    rng = np.random.default_rng(5)
    bases = [mpz(int(v)) for v in rng.integers(2, 2**62, size=50)]
    few_neg = rng.integers(0, 2**30, size=(50, 3))
    few_neg[0, 0] = -5
    all_neg = -rng.integers(1, 2**30, size=(50, 6))
    for X in (few_neg, all_neg):
        out = multi_column_msm(bases, X, N2)
        assert out == [naive(bases, X[:, j].tolist()) for j in range(X.shape[1])]


def test_batch_invert() -> None:
    xs = [mpz(v) for v in (3, 5, 7, 11, 2**100 + 1)]
    assert all(x * y % N2 == 1 for x, y in zip(xs, batch_invert(xs, N2), strict=True))
    assert batch_invert([], N2) == []
    with pytest.raises(CryptoError, match="not invertible"):
        batch_invert([mpz(3), P], N2)


def test_window_grows_with_terms() -> None:
    assert choose_window(10, 53) < choose_window(1000, 53) < choose_window(100_000, 53)
