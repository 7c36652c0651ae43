"""Packing: several bounded values per ciphertext; sums decode exactly; bounds are enforced."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from silobridge.crypto import PackedEncoder, PrivateKey, PublicKey
from silobridge.errors import CryptoError

BOUND = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False)


@st.composite
def packed_case(draw: st.DrawFn) -> tuple[list[tuple[float, float]], np.ndarray, np.ndarray, int, int]:
    cols = draw(st.integers(1, 3))
    bounds = []
    for _ in range(cols):
        a, b = draw(BOUND), draw(BOUND)
        bounds.append((min(a, b), max(a, b)))
    rows = draw(st.integers(1, 40))
    fractions = draw(
        st.lists(st.lists(st.floats(0.0, 1.0), min_size=cols, max_size=cols), min_size=rows, max_size=rows)
    )
    lo = np.array([b[0] for b in bounds])
    hi = np.array([b[1] for b in bounds])
    values = np.clip(lo + np.array(fractions) * (hi - lo), lo, hi)
    bins = draw(st.integers(1, 5))
    groups = np.array(draw(st.lists(st.integers(0, bins - 1), min_size=rows, max_size=rows)))
    precision_bits = draw(st.integers(0, 40))
    return bounds, values, groups, bins, precision_bits


@settings(max_examples=40, deadline=None)
@given(packed_case())
def test_packed_histogram_sums_are_exact(
    keypair: tuple[PublicKey, PrivateKey],
    case: tuple[list[tuple[float, float]], np.ndarray, np.ndarray, int, int],
) -> None:
    _pk, sk = keypair
    bounds, values, groups, bins, precision_bits = case
    enc = PackedEncoder(bounds, max_rows=len(values), precision_bits=precision_bits)
    ev = enc.encrypt(sk, values)
    assert len(ev) == len(values)
    sums = enc.decrypt(sk, ev.group_sum(groups, bins))
    q = enc.quantize(values)
    for b in range(bins):
        members = [q[i] for i in range(len(values)) if groups[i] == b]
        expected = [sum(col) for col in zip(*members, strict=True)] if members else [0] * len(bounds)
        assert sums.quantized[b] == expected
        assert sums.counts[b] == len(members)
        for j, (lo, _) in enumerate(bounds):
            assert sums.values[b, j] == np.ldexp(float(expected[j]), -precision_bits) + len(members) * lo


def test_gradient_hessian_pair_halves_ciphertexts(keypair: tuple[PublicKey, PrivateKey]) -> None:
    pk, sk = keypair
    rng = np.random.default_rng(0)
    g, h = rng.uniform(-1, 1, 200), rng.uniform(0, 0.25, 200)
    enc = PackedEncoder([(-1.0, 1.0), (0.0, 0.25)], max_rows=10_000)
    ev = enc.encrypt(pk, np.column_stack([g, h]))
    assert len(ev) == 200  # vs 400 for two separate columns
    total = enc.decrypt(sk, ev.sum())
    assert total.counts.tolist() == [200]
    assert np.allclose(total.values[0], [g.sum(), h.sum()], rtol=0, atol=1e-12)


def test_out_of_bounds_value_rejected(keypair: tuple[PublicKey, PrivateKey]) -> None:
    pk, _ = keypair
    enc = PackedEncoder([(-1.0, 1.0), (0.0, 0.25)], max_rows=10)
    with pytest.raises(CryptoError, match=r"value 1\.5 in column 0 \(row 1\) is outside the packing bounds"):
        enc.encrypt(pk, np.array([[0.0, 0.1], [1.5, 0.1]]))
    with pytest.raises(CryptoError, match="non-finite"):
        enc.encrypt(pk, np.array([[np.nan, 0.1]]))


def test_sum_of_too_many_rows_rejected(keypair: tuple[PublicKey, PrivateKey]) -> None:
    pk, sk = keypair
    enc = PackedEncoder([(0.0, 1.0)], max_rows=4)
    ev = enc.encrypt(pk, np.ones((5, 1)))
    assert enc.decrypt(sk, ev[:4].sum()).counts.tolist() == [4]
    with pytest.raises(CryptoError, match="covers 5 rows, more than the layout's bound of 4 rows"):
        enc.decrypt(sk, ev.sum())


def test_layout_must_fit_the_key(small_keypair: tuple[PublicKey, PrivateKey]) -> None:
    pk, _ = small_keypair
    enc = PackedEncoder([(-1.0, 1.0)] * 6, max_rows=10**6, precision_bits=53)
    with pytest.raises(CryptoError, match="512-bit key holds at most"):
        enc.encrypt(pk, np.zeros((1, 6)))


def test_packed_vectors_refuse_unpacked_operations(keypair: tuple[PublicKey, PrivateKey]) -> None:
    pk, sk = keypair
    enc = PackedEncoder([(0.0, 1.0)], max_rows=10)
    ev = enc.encrypt(pk, np.ones((3, 1)))
    with pytest.raises(CryptoError, match="packed"):
        ev * 2
    with pytest.raises(CryptoError, match="packed"):
        ev.dot(np.ones(3))
    with pytest.raises(CryptoError, match="PackedEncoder"):
        sk.decrypt_vector(ev)
    other = PackedEncoder([(0.0, 2.0)], max_rows=10**6)
    with pytest.raises(CryptoError, match="does not match"):
        other.decrypt(sk, ev)


def test_bad_layouts_rejected() -> None:
    with pytest.raises(CryptoError, match="at least one column"):
        PackedEncoder([], max_rows=1)
    with pytest.raises(CryptoError, match="lo <= hi"):
        PackedEncoder([(1.0, 0.0)], max_rows=1)
    with pytest.raises(CryptoError, match="max_rows"):
        PackedEncoder([(0.0, 1.0)], max_rows=0)
