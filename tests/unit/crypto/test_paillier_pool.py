"""Pooled obfuscators and the cheaper product paths give the same decrypted results as the plain ones."""

from __future__ import annotations

import numpy as np
import pytest

from silobridge.compute.local import LocalBackend
from silobridge.crypto import EncryptedVector, PrivateKey, PublicKey
from silobridge.crypto.paillier import encoding, native
from silobridge.crypto.paillier.pool import ObfuscatorPool
from silobridge.errors import CryptoError


@pytest.fixture()
def pool(keypair: tuple[PublicKey, PrivateKey]) -> ObfuscatorPool:
    p = ObfuscatorPool(keypair[0], 64)
    yield p
    p.close()


def test_pooled_encryption_and_obfuscation_decrypt_like_the_plain_paths(
    keypair: tuple[PublicKey, PrivateKey], pool: ObfuscatorPool
) -> None:
    pk, sk = keypair
    x = np.random.default_rng(4).normal(size=50) * 1e3
    plain, pooled = pk.encrypt_vector(x), pk.encrypt_vector(x, pool=pool)
    assert pooled.randomised and sk.decrypt_int(pooled) == sk.decrypt_int(plain)
    assert np.array_equal(sk.decrypt_vector(pooled), sk.decrypt_vector(plain))
    computed = plain * 3 + 1.5
    assert not computed.randomised
    again = computed.obfuscate(pool=pool)
    assert again.randomised and sk.decrypt_int(again) == sk.decrypt_int(computed.obfuscate())
    assert set(again.ciphertexts).isdisjoint(computed.ciphertexts)  # really re-randomised


def test_an_obfuscator_is_handed_out_once(keypair: tuple[PublicKey, PrivateKey]) -> None:
    pk, sk = keypair
    pool = ObfuscatorPool(pk, 40, LocalBackend(2))
    try:
        pool.fill()
        assert pool.wait_filled(120)
        assert len(pool) == 40  # bounded: filled to capacity, no further
        first, second = pool.take(30), pool.take(30)  # the second runs short: 10 ready + 20 made now
        assert len(pool) == 0
        seen = [int(y) for y in first + second]
        assert len(set(seen)) == 60
        pool.fill()
        assert pool.wait_filled(120)
        assert {int(y) for y in pool.take(40)}.isdisjoint(seen)
        assert pool.handed_out == 100 and pool.made >= 100
        zeros = EncryptedVector(pk, first, np.zeros(30, dtype=np.int64), randomised=True)
        assert sk.decrypt_raw(zeros) == [0] * 30  # each one is a fresh encryption of zero
        assert pk.obfuscation_base not in seen
    finally:
        pool.close()
    assert len(pool) == 0  # close forgets what was not handed out


def test_the_fill_stops_at_the_jobs_demand(keypair: tuple[PublicKey, PrivateKey]) -> None:
    """No obfuscators are made for a round after the last; a take beyond the demand still gets them."""
    pool = ObfuscatorPool(keypair[0], 30, demand=50)
    try:
        pool.fill()
        assert pool.wait_filled(120) and len(pool) == 30
        assert len(pool.take(30)) == 30
        pool.fill()
        assert pool.wait_filled(120)
        assert len(pool) == 20 and pool.made == 50  # 50 in all, not 60
        assert len(pool.take(25)) == 25  # 5 made on demand
        pool.fill()
        assert pool.wait_filled(120) and len(pool) == 0 and pool.made == 55
    finally:
        pool.close()
    with pytest.raises(CryptoError, match="demand"):
        ObfuscatorPool(keypair[0], 1, demand=-1)


class _Placed(LocalBackend):
    """A backend that places work on the party's nodes, as Ray does: counts the items it ran."""

    runs_in_process = False

    def __init__(self) -> None:
        super().__init__(2)
        self.items = 0

    def map(self, fn, items):  # type: ignore[no-untyped-def]
        self.items += len(items)
        return super().map(fn, items)


@pytest.mark.parametrize("placed", [True, False], ids=["ray-like", "in-process"])
def test_a_placing_backend_makes_the_background_fill_too(
    keypair: tuple[PublicKey, PrivateKey], placed: bool
) -> None:
    """With Ray the fill must run on the nodes (their CPU budget), not in a thread of the driver;
    an in-process backend leaves it to the pool's own thread when the native kernel is there."""
    backend = _Placed()
    backend.runs_in_process = not placed
    pool = ObfuscatorPool(keypair[0], 40, backend)
    try:
        pool.fill()
        assert pool.wait_filled(120) and len(pool) == 40
    finally:
        pool.close()
    if placed or not native.available():
        assert backend.items > 0
    else:
        assert backend.items == 0


def test_pool_refuses_other_keys_and_bad_sizes(
    keypair: tuple[PublicKey, PrivateKey], other_keypair: tuple[PublicKey, PrivateKey], pool: ObfuscatorPool
) -> None:
    with pytest.raises(CryptoError, match="another public key"):
        other_keypair[0].encrypt_vector(np.ones(3), pool=pool)
    with pytest.raises(CryptoError, match="another public key"):
        other_keypair[0].encrypt_vector(np.ones(3)).obfuscate(pool=pool)
    with pytest.raises(CryptoError, match="capacity"):
        ObfuscatorPool(keypair[0], 0)


def test_coarse_product_exponent_equals_products_of_the_rounded_matrix(
    keypair: tuple[PublicKey, PrivateKey],
) -> None:
    """X^T [[d]] with X at step 16**-4: bit for bit the exact products of the rounded X, within the bound."""
    pk, sk = keypair
    rng = np.random.default_rng(8)
    d = rng.normal(size=300) * 0.7
    X = rng.normal(size=(300, 6)) * 2.5
    enc = pk.encrypt_vector(d)
    coarse = enc.rmatmul(X, exponent=-4)
    # The straightforward path, in exact integers: mantissas of d times the rounded X.
    d_mant = sk.decrypt_int(enc)
    x_mant = np.rint(X * 16.0**4).astype(np.int64)
    exact = [sum(int(a) * int(b) for a, b in zip(d_mant, x_mant[:, j], strict=True)) for j in range(6)]
    assert sk.decrypt_int(coarse) == exact
    assert int(coarse.exponents[0]) == int(enc.exponents[0]) - 4
    # The error bound of docs/algorithms.md: |sum d_i (x_i - x^_i)| <= sum |d_i| * 2**-17.
    err = np.abs(sk.decrypt_vector(coarse) - X.T @ d)
    assert np.all(err <= np.abs(d).sum() * 2.0**-17 + 1e-9)
    assert err.max() > 0  # it is a rounding, not the full-precision product


def test_quarter_with_exact_exponent_is_the_same_value(keypair: tuple[PublicKey, PrivateKey]) -> None:
    pk, sk = keypair
    u = np.random.default_rng(2).normal(size=40) * 10
    enc = pk.encrypt_vector(u)
    fast, plain = enc.mul(0.25, exponent=-1), enc * 0.25
    assert np.array_equal(sk.decrypt_vector(fast), sk.decrypt_vector(plain))
    assert np.array_equal(sk.decrypt_vector(fast), encoding.decode(sk.decrypt_int(enc), enc.exponents) * 0.25)


def test_a_wide_window_pool_serves_the_same_key(keypair: tuple[PublicKey, PrivateKey]) -> None:
    """12-bit windows (hetero_lr's long jobs): same key, fresh encryptions of zero, same decryptions."""
    pk, sk = keypair
    wide = PublicKey(pk.n, window=12)
    assert wide == pk and wide.fingerprint() == pk.fingerprint()
    pool = ObfuscatorPool(wide, 20)
    try:
        ys = pool.take(20)
        assert (
            sk.decrypt_raw(EncryptedVector(pk, ys, np.zeros(20, dtype=np.int64), randomised=True)) == [0] * 20
        )
        x = np.linspace(-3, 3, 20)
        assert np.array_equal(
            sk.decrypt_vector(pk.encrypt_vector(x, pool=pool)), sk.decrypt_vector(pk.encrypt_vector(x))
        )
    finally:
        pool.close()
