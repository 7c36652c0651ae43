"""Every ciphertext is freshly randomised; re-randomisation keeps the plaintext."""

from __future__ import annotations

import numpy as np
import pytest

from silobridge.crypto import PrivateKey, PublicKey, generate_keypair
from silobridge.crypto.paillier import kernels
from silobridge.errors import CryptoError


@pytest.mark.parametrize("holder", ["public", "private"])
def test_same_value_twice_gives_different_ciphertexts(
    keypair: tuple[PublicKey, PrivateKey], holder: str
) -> None:
    pk, sk = keypair
    key = PublicKey(pk.n) if holder == "public" else sk
    x = np.array([7, 7, 7, 0, 0, 0, -1, -1])
    a = key.encrypt_vector(x)
    b = key.encrypt_vector(x)
    cts = [int(c) for c in a.ciphertexts + b.ciphertexts]
    assert len(set(cts)) == len(cts)
    n, n2 = pk.n, pk.nsquare
    for m, c in zip(x.tolist() * 2, cts, strict=True):
        assert c != (1 + (m % n) * n) % n2  # never the unrandomised encryption
        assert 0 < c < n2
    assert sk.decrypt_int(a) == x.tolist() == sk.decrypt_int(b)


def test_obfuscate_rerandomises(keypair: tuple[PublicKey, PrivateKey]) -> None:
    pk, sk = keypair
    ev = pk.encrypt_vector(np.array([1, 2, 3])) * 5
    assert not ev.randomised
    for fresh in (ev.obfuscate(), ev.obfuscate(private_key=sk)):
        assert fresh.randomised
        assert all(int(a) != int(b) for a, b in zip(ev.ciphertexts, fresh.ciphertexts, strict=True))
        assert sk.decrypt_int(fresh) == [5, 10, 15]


def test_obfuscate_with_wrong_private_key(
    keypair: tuple[PublicKey, PrivateKey], other_keypair: tuple[PublicKey, PrivateKey]
) -> None:
    pk, _ = keypair
    with pytest.raises(CryptoError, match="does not match"):
        pk.encrypt_vector(np.array([1])).obfuscate(private_key=other_keypair[1])


def test_each_key_object_has_its_own_obfuscation_base(keypair: tuple[PublicKey, PrivateKey]) -> None:
    pk, _ = keypair
    a, b = PublicKey(pk.n), PublicKey(pk.n)
    assert a.obfuscation_base != b.obfuscation_base
    h = a.obfuscation_base
    assert pow(h, 1, pk.nsquare) == h and h % pk.n != 0
    assert a.obfuscation_bits == pk.bits + 128


def test_obfuscators_are_not_from_a_small_pool(keypair: tuple[PublicKey, PrivateKey]) -> None:
    pk, _ = keypair
    table = kernels.public_table(pk.n, pk.obfuscation_base, pk.obfuscation_bits, pk.window)
    ys = [int(y) for y in kernels.public_obfuscators(2000, table)]
    assert len(set(ys)) == 2000


def test_short_obfuscation_exponents_refused(keypair: tuple[PublicKey, PrivateKey]) -> None:
    with pytest.raises(CryptoError, match="shorter than 256 bits"):
        PublicKey(keypair[0].n, obfuscation_bits=128)


def test_small_keys_need_the_test_flag() -> None:
    with pytest.raises(CryptoError, match="at least 1024 bits"):
        generate_keypair(512)
