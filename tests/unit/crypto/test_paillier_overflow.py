"""Overflow is detected and reported, never returned as a wrong number."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from silobridge.crypto import PrivateKey, PublicKey
from silobridge.errors import CryptoError


def test_encoding_overflow_names_value_and_key(keypair: tuple[PublicKey, PrivateKey]) -> None:
    pk, _ = keypair
    with pytest.raises(
        CryptoError, match=r"plaintext 1\.2e\+300 does not fit in the 1024-bit key's encoding range"
    ):
        pk.encrypt_vector(np.array([1.2e300]), precision=2.0**-40)
    with pytest.raises(CryptoError, match="does not fit"):
        pk.encrypt_vector(np.array([pk.n // 3], dtype=object))
    pk.encrypt_vector(np.array([pk.max_int, -pk.max_int], dtype=object))  # the edge itself fits


@settings(max_examples=20, deadline=None)
@given(st.integers(min_value=1, max_value=2**40))
def test_decryption_detects_overflowed_products(keypair: tuple[PublicKey, PrivateKey], k: int) -> None:
    pk, sk = keypair
    big = pk.max_int // 2 + 1
    ev = pk.encrypt_vector(np.array([big], dtype=object))
    # 2 * big lands in (max_int, n - max_int): the gap phe and we both reject
    with pytest.raises(CryptoError, match="overflowed the 1024-bit key's encoding range"):
        sk.decrypt_vector(ev * 2)
    # within range is fine
    assert sk.decrypt_int(pk.encrypt_vector(np.array([k])) * 3) == [3 * k]


def test_sum_overflow_detected(keypair: tuple[PublicKey, PrivateKey]) -> None:
    pk, sk = keypair
    third = pk.max_int // 2 + 1
    ev = pk.encrypt_vector(np.array([third, third], dtype=object))
    with pytest.raises(CryptoError, match="overflowed"):
        sk.decrypt_int(ev.sum())


def test_large_but_finite_overflow_uses_exact_check(keypair: tuple[PublicKey, PrivateKey]) -> None:
    pk, _ = keypair
    # 2**1023 is a finite float whose mantissa exceeds n/3 for a 1024-bit key
    with pytest.raises(CryptoError, match="does not fit in the 1024-bit key"):
        pk.encrypt_vector(np.array([2.0**1023]), exponent=0)


def test_small_and_large_plaintexts_decrypt_exactly(keypair: tuple[PublicKey, PrivateKey]) -> None:
    """Small plaintexts take the one-half (mod p^2) path, large ones the full CRT; both exact."""
    pk, sk = keypair
    edge = 1 << (min(sk.p, sk.q).bit_length() - 130)
    values = [
        0,
        1,
        -1,
        edge - 1,
        -(edge - 1),
        edge,
        -edge,
        edge * 4,
        pk.max_int,
        -pk.max_int,
        2**600 + 3,
        -(2**700),
    ]
    ev = pk.encrypt_vector(np.array(values, dtype=object))
    assert sk.decrypt_int(ev) == values
    phe_sk = sk.to_phe()
    assert [phe_sk.decrypt(c) for c in ev.to_phe()] == values
