"""Homomorphic arithmetic agrees exactly with the same fixed-point arithmetic in plaintext."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from silobridge.crypto import EncryptedVector, PrivateKey, PublicKey
from silobridge.errors import CryptoError

SMALL = st.integers(min_value=-(2**53), max_value=2**53)


def int_vectors(min_size: int = 1, max_size: int = 12) -> st.SearchStrategy[list[int]]:
    return st.lists(SMALL, min_size=min_size, max_size=max_size)


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_add_sub_neg_exact(small_keypair: tuple[PublicKey, PrivateKey], data: st.DataObject) -> None:
    pk, sk = small_keypair
    a = data.draw(int_vectors())
    b = data.draw(st.lists(SMALL, min_size=len(a), max_size=len(a)))
    ea = pk.encrypt_vector(np.array(a, dtype=np.int64))
    eb = sk.encrypt_vector(np.array(b, dtype=np.int64))
    assert sk.decrypt_int(ea + eb) == [x + y for x, y in zip(a, b, strict=True)]
    assert sk.decrypt_int(ea - eb) == [x - y for x, y in zip(a, b, strict=True)]
    assert sk.decrypt_int(-ea) == [-x for x in a]
    assert sk.decrypt_int(ea + np.array(b)) == [x + y for x, y in zip(a, b, strict=True)]
    assert sk.decrypt_int(np.array(b) - ea) == [y - x for x, y in zip(a, b, strict=True)]


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_scalar_multiply_exact_with_negatives(
    small_keypair: tuple[PublicKey, PrivateKey], data: st.DataObject
) -> None:
    pk, sk = small_keypair
    a = data.draw(int_vectors())
    k = data.draw(st.lists(SMALL, min_size=len(a), max_size=len(a)))
    ea = pk.encrypt_vector(np.array(a, dtype=np.int64))
    assert sk.decrypt_int(ea * np.array(k, dtype=np.int64)) == [x * y for x, y in zip(a, k, strict=True)]
    assert sk.decrypt_int(ea * -3) == [-3 * x for x in a]
    assert sk.decrypt_int(np.int64(5) * ea) == [5 * x for x in a]


@settings(max_examples=20, deadline=None)
@given(st.integers(min_value=1, max_value=300), st.integers(min_value=1, max_value=60), st.integers(0, 2**32))
def test_dot_and_rmatmul_match_plaintext(
    small_keypair: tuple[PublicKey, PrivateKey], n: int, bits: int, seed: int
) -> None:
    _pk, sk = small_keypair
    rng = np.random.default_rng(seed)
    lim = 2**bits
    x = rng.integers(-lim, lim, size=n)
    X = rng.integers(-lim, lim, size=(n, 3))
    z = rng.integers(-(2**40), 2**40, size=n)
    ez = sk.encrypt_vector(z)
    expected_dot = sum(int(a) * int(b) for a, b in zip(x, z, strict=True))
    assert sk.decrypt_int(ez.dot(x)) == [expected_dot]
    expected = [sum(int(X[i, j]) * int(z[i]) for i in range(n)) for j in range(3)]
    assert sk.decrypt_int(ez.rmatmul(X)) == expected
    assert sk.decrypt_int(X.T @ ez) == expected


def test_rmatmul_many_columns_uses_batch_inversion(keypair: tuple[PublicKey, PrivateKey]) -> None:
    _pk, sk = keypair
    rng = np.random.default_rng(1)
    X = -rng.integers(1, 2**20, size=(40, 8))  # all negative: the batch-inversion branch
    z = rng.integers(-1000, 1000, size=40)
    out = sk.decrypt_int(sk.encrypt_vector(z).rmatmul(X))
    assert out == (X.T.astype(object) @ z.astype(object)).tolist()


def test_big_scalars_beyond_int64(keypair: tuple[PublicKey, PrivateKey]) -> None:
    pk, sk = keypair
    ks = np.array([2**100 + 7, -(2**90), 3, -5, 11], dtype=object)
    z = [3, -4, 5, 6, -7]
    ez = pk.encrypt_vector(np.array(z))
    assert sk.decrypt_int(ez.dot(ks)) == [sum(int(a) * b for a, b in zip(ks, z, strict=True))]
    assert sk.decrypt_int(ez * ks) == [int(a) * b for a, b in zip(ks, z, strict=True)]


def test_float_fixed_point(keypair: tuple[PublicKey, PrivateKey]) -> None:
    pk, sk = keypair
    x = np.array([0.5, -1.25, 3.0, -1e-3, 1e6])
    ev = pk.encrypt_vector(x, precision=2.0**-30)
    assert np.allclose(sk.decrypt_vector(ev), x, rtol=0, atol=2.0**-30)
    w = np.array([0.25, 2.0, -1.5, 4.0, 1e-6])
    assert np.isclose(sk.decrypt_vector(ev.dot(w, precision=2.0**-40))[0], x @ w, rtol=0, atol=1e-5)
    assert np.allclose(sk.decrypt_vector(ev.mul(w, precision=2.0**-40)), x * w, rtol=0, atol=1e-5)
    assert np.allclose(sk.decrypt_vector(ev + 0.125), x + 0.125, rtol=0, atol=2.0**-30)
    assert sk.decrypt_vector(ev.sum())[0] == pytest.approx(x.sum(), abs=1e-6)


def test_group_sum_is_a_histogram(keypair: tuple[PublicKey, PrivateKey]) -> None:
    pk, sk = keypair
    values = np.arange(10)
    groups = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
    hist = pk.encrypt_vector(values).group_sum(groups, 4)
    assert sk.decrypt_int(hist) == [0 + 3 + 6 + 9, 1 + 4 + 7, 2 + 5 + 8, 0]
    with pytest.raises(CryptoError, match="outside"):
        pk.encrypt_vector(values).group_sum(groups + 5, 4)


def test_indexing_and_concatenate(keypair: tuple[PublicKey, PrivateKey]) -> None:
    pk, sk = keypair
    ev = pk.encrypt_vector(np.arange(6))
    assert sk.decrypt_int(ev[1:4]) == [1, 2, 3]
    assert sk.decrypt_int(ev[np.array([5, 0])]) == [5, 0]
    assert sk.decrypt_int(ev[-1]) == [5]
    assert sk.decrypt_int(ev[np.arange(6) % 2 == 0]) == [0, 2, 4]
    both = EncryptedVector.concatenate([ev[:2], ev[4:]])
    assert len(both) == 4 and sk.decrypt_int(both) == [0, 1, 4, 5]
    with pytest.raises(IndexError):
        ev[6]


def test_broadcast_single_element(keypair: tuple[PublicKey, PrivateKey]) -> None:
    pk, sk = keypair
    ev = pk.encrypt_vector(np.array([1, 2, 3]))
    assert sk.decrypt_int(ev + ev[0]) == [2, 3, 4]
    with pytest.raises(CryptoError, match="lengths"):
        ev + ev[:2]


def test_errors_name_the_problem(
    keypair: tuple[PublicKey, PrivateKey], other_keypair: tuple[PublicKey, PrivateKey]
) -> None:
    pk, _sk = keypair
    opk, osk = other_keypair
    ev = pk.encrypt_vector(np.array([1.0]))
    with pytest.raises(CryptoError, match="different public keys"):
        ev + opk.encrypt_vector(np.array([1.0]))
    with pytest.raises(CryptoError, match="different public key"):
        osk.decrypt_vector(ev)
    with pytest.raises(CryptoError, match="cannot multiply two ciphertexts"):
        ev * ev  # type: ignore[operator]
    with pytest.raises(CryptoError, match="non-finite"):
        pk.encrypt_vector(np.array([np.nan]))
    with pytest.raises(CryptoError, match="does not match"):
        ev.rmatmul(np.ones((2, 2)))
