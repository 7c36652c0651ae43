"""The protobuf wire format: round trips, and rejection of anything malformed a peer could send."""

from __future__ import annotations

import numpy as np
import pytest

from silobridge.crypto import EncryptedVector, PackedEncoder, PrivateKey, PublicKey
from silobridge.errors import CryptoError
from silobridge.federation.v1 import values_pb2


def _proto(pk: PublicKey, values: list[int]) -> values_pb2.PaillierVector:
    return pk.encrypt_vector(np.array(values)).to_proto()


def test_round_trip_preserves_values_and_exponents(keypair: tuple[PublicKey, PrivateKey]) -> None:
    pk, sk = keypair
    ev = pk.encrypt_vector(np.array([1.5, -2.25, 1e-3]), precision=2.0**-30)
    msg = ev.to_proto()
    assert msg.count == 3 and msg.width == (pk.nsquare.bit_length() + 7) // 8
    assert list(msg.exponents) == [ev.exponent] and list(msg.shape) == [3]
    assert len(msg.data) == 3 * msg.width
    parsed = values_pb2.PaillierVector.FromString(msg.SerializeToString())
    back = EncryptedVector.from_proto(parsed, pk)
    assert [int(c) for c in back.ciphertexts] == [int(c) for c in ev.ciphertexts]
    assert sk.decrypt_vector(back).tolist() == sk.decrypt_vector(ev).tolist()


def test_mixed_exponents_travel_per_element(keypair: tuple[PublicKey, PrivateKey]) -> None:
    pk, sk = keypair
    phe_pk = pk.to_phe()
    ev = EncryptedVector.from_phe([phe_pk.encrypt(1.5), phe_pk.encrypt(7)], pk)
    msg = ev.to_proto()
    assert len(msg.exponents) == 2
    assert sk.decrypt_vector(EncryptedVector.from_proto(msg, pk)).tolist() == [1.5, 7.0]


def test_empty_vector_round_trip(keypair: tuple[PublicKey, PrivateKey]) -> None:
    pk, _ = keypair
    back = EncryptedVector.from_proto(pk.encrypt_vector(np.array([])).to_proto(), pk)
    assert len(back) == 0


def test_unrandomised_results_are_not_serialised(keypair: tuple[PublicKey, PrivateKey]) -> None:
    pk, sk = keypair
    ev = pk.encrypt_vector(np.array([1, 2]))
    derived = ev * 3
    with pytest.raises(CryptoError, match="obfuscate"):
        derived.to_proto()
    fresh = derived.obfuscate()
    assert sk.decrypt_int(EncryptedVector.from_proto(fresh.to_proto(), pk)) == [3, 6]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda m, pk: setattr(m, "key_fingerprint", b"\x00" * 32), "fingerprint mismatch"),
        (lambda m, pk: setattr(m, "width", m.width - 1), "width"),
        (lambda m, pk: setattr(m, "count", m.count + 1), "claims"),
        (lambda m, pk: setattr(m, "data", m.data[:-1]), "claims"),
        (lambda m, pk: m.shape.append(5), "shape"),
        (lambda m, pk: m.exponents.extend([0]), "exponents"),
        (lambda m, pk: (m.ClearField("exponents"), m.exponents.append(10**6)), "exponent outside"),
        (lambda m, pk: setattr(m, "data", b"\x00" * m.width + m.data[m.width :]), "outside"),
        (lambda m, pk: setattr(m, "data", b"\xff" * m.width + m.data[m.width :]), "outside"),
        (
            lambda m, pk: setattr(m, "data", pk.nsquare.to_bytes(m.width, "big") + m.data[m.width :]),
            "outside",
        ),
        (lambda m, pk: setattr(m, "data", pk.n.to_bytes(m.width, "big") + m.data[m.width :]), "not a unit"),
        (lambda m, pk: setattr(m, "pack_slots", 3), "packing"),
        (lambda m, pk: (setattr(m, "pack_slots", 100), setattr(m, "pack_bits", 100)), "does not fit"),
    ],
)
def test_malformed_vectors_rejected(keypair: tuple[PublicKey, PrivateKey], mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    pk, _ = keypair
    msg = _proto(pk, [1, 2, 3])
    mutate(msg, pk)
    with pytest.raises(CryptoError, match=message):
        EncryptedVector.from_proto(msg, pk)


def test_vector_for_another_key_rejected(
    keypair: tuple[PublicKey, PrivateKey], other_keypair: tuple[PublicKey, PrivateKey]
) -> None:
    pk, _ = keypair
    opk, _ = other_keypair
    with pytest.raises(CryptoError, match="different public key"):
        EncryptedVector.from_proto(_proto(opk, [1]), pk)


def test_packed_vector_round_trip(keypair: tuple[PublicKey, PrivateKey]) -> None:
    pk, sk = keypair
    enc = PackedEncoder([(-1.0, 1.0), (0.0, 0.25)], max_rows=100)
    ev = enc.encrypt(pk, np.array([[0.5, 0.125], [-0.25, 0.0]]))
    msg = ev.to_proto()
    assert (msg.pack_slots, msg.pack_bits) == (enc.slots, enc.bits)
    back = EncryptedVector.from_proto(msg, pk)
    assert back.packing == ev.packing
    assert enc.decrypt(sk, back.sum()).values.tolist() == [[0.25, 0.125]]


def test_public_key_proto(
    keypair: tuple[PublicKey, PrivateKey], small_keypair: tuple[PublicKey, PrivateKey]
) -> None:
    pk, _ = keypair
    msg = pk.to_proto()
    assert int.from_bytes(msg.n, "big") == pk.n
    assert PublicKey.from_proto(values_pb2.PaillierPublicKey.FromString(msg.SerializeToString())) == pk
    with pytest.raises(CryptoError, match="below the 1024-bit minimum"):
        PublicKey.from_proto(small_keypair[0].to_proto())
    with pytest.raises(CryptoError, match="even"):
        PublicKey.from_proto(values_pb2.PaillierPublicKey(n=(pk.n + 1).to_bytes(128, "big")))
    with pytest.raises(CryptoError, match="product of two distinct primes"):
        p = 2**521 - 1  # a Mersenne prime: p*p is a perfect square
        PublicKey.from_proto(values_pb2.PaillierPublicKey(n=(p * p).to_bytes(131, "big")))
