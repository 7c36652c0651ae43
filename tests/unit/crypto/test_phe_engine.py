"""The phe baseline engine: same results as the fast engine, same wire format, freshness enforced."""

from __future__ import annotations

import numpy as np
import pytest

from silobridge.crypto import EncryptedVector, PrivateKey, PublicKey
from silobridge.crypto.phe_engine import PheEncryptedVector, PheKeypair, PhePrivateKey, PhePublicKey
from silobridge.errors import CryptoError
from silobridge.federation.v1 import values_pb2 as pb

RNG = np.random.default_rng(7)
X = RNG.normal(size=(12, 3))
U = RNG.normal(size=12)


@pytest.fixture(scope="module")
def phe_keys(small_keypair: tuple[PublicKey, PrivateKey]) -> PheKeypair:
    return PheKeypair.from_fast(small_keypair[1])


def _wire(v: PheEncryptedVector | EncryptedVector) -> bytes:
    return v.to_proto().SerializeToString()


def test_homomorphic_results_match_the_fast_engine(
    phe_keys: PheKeypair, small_keypair: tuple[PublicKey, PrivateKey]
) -> None:
    pk, sk = phe_keys
    fast_pk, fast_sk = small_keypair
    enc, fast = pk.encrypt_vector(U), fast_pk.encrypt_vector(U)
    cases = [
        (enc * 0.25 + (0.5 - U), fast * 0.25 + (0.5 - U)),
        (enc + enc, fast + fast),
        (
            enc.rmatmul(X) * (1.0 / 12) + np.array([1e6, -1e6, 3.0]),
            fast.rmatmul(X) * (1.0 / 12) + [1e6, -1e6, 3.0],
        ),
        (enc.dot(U) + enc.sum(), fast.dot(U) + fast.sum()),
    ]
    for ours, theirs in cases:
        assert np.allclose(sk.decrypt_vector(ours), fast_sk.decrypt_vector(theirs), rtol=1e-12, atol=1e-9)
    assert np.allclose(sk.decrypt_vector(enc.rmatmul(X)), X.T @ U, rtol=1e-12)


def test_vectors_convert_both_ways_without_changing_ciphertexts(
    phe_keys: PheKeypair, small_keypair: tuple[PublicKey, PrivateKey]
) -> None:
    pk, sk = phe_keys
    fast_sk = small_keypair[1]
    enc = (pk.encrypt_vector(U) * 3.0).obfuscate()
    fast = enc.to_fast()
    assert fast.randomised and list(fast.exponents) == list(enc.exponents)
    assert np.allclose(fast_sk.decrypt_vector(fast), 3.0 * U)
    back = PheEncryptedVector.from_fast(fast, pk)
    assert [a.ciphertext(be_secure=False) for a in back.numbers] == [int(c) for c in fast.ciphertexts]
    assert np.allclose(sk.decrypt_vector(back), 3.0 * U)
    # and a fast-engine vector decrypts with the phe key
    assert np.allclose(sk.decrypt_vector(PheEncryptedVector.from_fast(small_keypair[0].encrypt_vector(U))), U)


def test_wire_format_is_the_fast_engines(
    phe_keys: PheKeypair, small_keypair: tuple[PublicKey, PrivateKey]
) -> None:
    pk, sk = phe_keys
    fast_pk = small_keypair[0]
    assert pk.fingerprint() == fast_pk.fingerprint()
    assert pk.to_proto() == fast_pk.to_proto()
    assert PhePublicKey.from_proto(fast_pk.to_proto(), min_bits=512) == pk
    with pytest.raises(CryptoError, match="1024-bit minimum"):
        PhePublicKey.from_proto(fast_pk.to_proto())
    enc = (pk.encrypt_vector(U) + 1.0).obfuscate()
    msg = enc.to_proto()
    assert len(msg.exponents) in (1, len(U))
    assert _wire(enc) == _wire(enc.to_fast())  # byte for byte what the fast engine sends
    parsed = pb.PaillierVector()
    parsed.ParseFromString(_wire(enc))
    received = PheEncryptedVector.from_proto(parsed, pk)
    assert np.allclose(sk.decrypt_vector(received), U + 1.0)
    assert np.allclose(small_keypair[1].decrypt_vector(EncryptedVector.from_proto(parsed, fast_pk)), U + 1.0)


def test_phe_picks_an_exponent_per_value_and_the_wire_carries_them(phe_keys: PheKeypair) -> None:
    pk, sk = phe_keys
    values = np.array([1e-9, 1.0, 3e5])
    enc = pk.encrypt_vector(values)
    assert len(set(enc.exponents.tolist())) == 3
    assert list(enc.to_proto().exponents) == enc.exponents.tolist()
    assert np.allclose(sk.decrypt_vector(enc), values, rtol=1e-12)


def test_computed_vectors_must_be_obfuscated_before_sending(phe_keys: PheKeypair) -> None:
    pk = phe_keys.public_key
    enc = pk.encrypt_vector(U)
    computed = enc * 2.0
    with pytest.raises(CryptoError, match="obfuscate"):
        computed.to_proto()
    assert not computed.to_fast().randomised  # the codec refuses the converted vector too
    fresh = computed.obfuscate()
    before = [a.ciphertext(be_secure=False) for a in computed.numbers]
    after = [a.ciphertext(be_secure=False) for a in fresh.numbers]
    assert all(a != b for a, b in zip(before, after, strict=True))  # new ciphertexts, old vector untouched
    assert [a.ciphertext(be_secure=False) for a in computed.numbers] == before
    assert fresh.to_proto().count == len(U)


def test_foreign_keys_and_bad_shapes_are_refused(
    phe_keys: PheKeypair, other_keypair: tuple[PublicKey, PrivateKey]
) -> None:
    pk, sk = phe_keys
    other = PheKeypair.from_fast(other_keypair[1])
    enc, foreign = pk.encrypt_vector(U), other.public_key.encrypt_vector(U)
    with pytest.raises(CryptoError):
        enc + foreign
    with pytest.raises(CryptoError):
        sk.decrypt_vector(foreign)
    with pytest.raises(CryptoError, match="fingerprint"):
        PheEncryptedVector.from_proto(foreign.to_proto(), pk)
    with pytest.raises(CryptoError):
        enc + np.ones(5)
    with pytest.raises(CryptoError):
        enc.rmatmul(np.ones((5, 2)))
    with pytest.raises(CryptoError):
        enc * enc
    with pytest.raises(CryptoError, match="primes"):
        PhePrivateKey(pk, 3, 5)


def test_key_generation_honours_the_size_floor() -> None:
    with pytest.raises(CryptoError, match="1024"):
        PheKeypair.generate(512)
    pair = PheKeypair.generate(512, allow_insecure_test_size=True)
    assert pair.public_key.bits == 512
    assert pair.private_key.to_fast().public_key.n == pair.public_key.n
