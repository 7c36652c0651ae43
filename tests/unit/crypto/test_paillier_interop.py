"""Interoperability with python-paillier: each engine decrypts what the other encrypts."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phe import paillier

from silobridge.crypto import EncryptedVector, PrivateKey, PublicKey
from silobridge.errors import CryptoError

INTS = st.integers(min_value=-(2**200), max_value=2**200)
FLOATS = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False)


def test_keys_round_trip_through_phe(small_keypair: tuple[PublicKey, PrivateKey]) -> None:
    pk, sk = small_keypair
    assert PublicKey.from_phe(pk.to_phe()) == pk
    back = PrivateKey.from_phe(sk.to_phe())
    assert (back.p, back.q) == (sk.p, sk.q)
    assert pk.fingerprint() == PublicKey(pk.n).fingerprint()
    assert len(pk.fingerprint()) == 32


@settings(max_examples=30, deadline=None)
@given(st.lists(INTS, min_size=1, max_size=6))
def test_phe_encrypts_we_decrypt_ints(small_keypair: tuple[PublicKey, PrivateKey], values: list[int]) -> None:
    pk, sk = small_keypair
    phe_pk = pk.to_phe()
    ev = EncryptedVector.from_phe([phe_pk.encrypt(v) for v in values], pk)
    assert sk.decrypt_int(ev) == values


@settings(max_examples=30, deadline=None)
@given(st.lists(FLOATS, min_size=1, max_size=6))
def test_phe_encrypts_we_decrypt_floats(
    small_keypair: tuple[PublicKey, PrivateKey], values: list[float]
) -> None:
    pk, sk = small_keypair
    phe_pk = pk.to_phe()
    ev = EncryptedVector.from_phe([phe_pk.encrypt(v) for v in values], pk)
    # phe encodes floats exactly (per-value exponents); decryption must give them back exactly
    assert sk.decrypt_vector(ev).tolist() == values


@settings(max_examples=30, deadline=None)
@given(st.lists(INTS, min_size=1, max_size=6), st.booleans())
def test_we_encrypt_phe_decrypts(
    small_keypair: tuple[PublicKey, PrivateKey], values: list[int], key_holder: bool
) -> None:
    pk, sk = small_keypair
    x = np.array(values, dtype=object)
    ev = sk.encrypt_vector(x) if key_holder else PublicKey(pk.n).encrypt_vector(x)
    phe_sk = sk.to_phe()
    assert [phe_sk.decrypt(c) for c in ev.to_phe()] == values


@settings(max_examples=25, deadline=None)
@given(st.lists(FLOATS, min_size=1, max_size=6))
def test_phe_arithmetic_on_our_ciphertexts(
    small_keypair: tuple[PublicKey, PrivateKey], values: list[float]
) -> None:
    pk, sk = small_keypair
    ev = pk.encrypt_vector(np.array(values), precision=2.0**-20)
    phe_numbers = ev.to_phe()
    phe_sk = sk.to_phe()
    doubled = [c * 2 + 1.5 for c in phe_numbers]
    ours = sk.decrypt_vector(ev * 2 + 1.5)
    assert np.allclose([phe_sk.decrypt(c) for c in doubled], ours, rtol=0, atol=1e-5)
    assert sk.decrypt_vector(EncryptedVector.from_phe(doubled, pk)).tolist() == ours.tolist()


def test_mixed_exponents_from_phe_are_aligned(keypair: tuple[PublicKey, PrivateKey]) -> None:
    pk, sk = keypair
    phe_pk = pk.to_phe()
    nums = [phe_pk.encrypt(1.5), phe_pk.encrypt(2), phe_pk.encrypt(-0.125)]
    ev = EncryptedVector.from_phe(nums, pk)
    assert len(set(ev.exponents.tolist())) > 1
    assert sk.decrypt_vector(ev.sum()).tolist() == [3.375]
    assert sk.decrypt_vector(ev + ev).tolist() == [3.0, 4.0, -0.25]
    assert sk.decrypt_vector(ev.dot(np.array([1, 2, 4]))).tolist() == [5.0]


def test_foreign_phe_numbers_rejected(keypair: tuple[PublicKey, PrivateKey]) -> None:
    pk, _ = keypair
    other, _ = paillier.generate_paillier_keypair(n_length=512)
    with pytest.raises(CryptoError, match="different public key"):
        EncryptedVector.from_phe([other.encrypt(1)], pk)


def test_phe_unobfuscated_result_is_not_marked_fresh(keypair: tuple[PublicKey, PrivateKey]) -> None:
    pk, _ = keypair
    phe_pk = pk.to_phe()
    fresh = EncryptedVector.from_phe([phe_pk.encrypt(3)], pk)
    derived = EncryptedVector.from_phe([phe_pk.encrypt(3) * 2], pk)
    assert fresh.randomised and not derived.randomised
