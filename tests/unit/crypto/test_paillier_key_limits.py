"""Oversized Paillier public keys from a peer are refused before any arithmetic on them."""

from __future__ import annotations

import random
import time

import pytest

from silobridge.crypto import PublicKey, generate_keypair
from silobridge.crypto.paillier.keys import MAX_KEY_BITS
from silobridge.crypto.phe_engine import PhePublicKey
from silobridge.errors import CryptoError
from silobridge.federation import codec
from silobridge.federation.v1 import values_pb2 as pb


def _odd(bits: int, seed: int = 1) -> int:
    return random.Random(seed).getrandbits(bits) | (1 << (bits - 1)) | 1


def _key_message(n: int) -> pb.PaillierPublicKey:
    return pb.PaillierPublicKey(n=n.to_bytes((n.bit_length() + 7) // 8, "big"))


@pytest.mark.parametrize("bits", [MAX_KEY_BITS + 8, 1 << 20])
def test_an_oversized_modulus_from_a_peer_is_refused_fast(bits: int) -> None:
    msg = _key_message(_odd(bits))
    wire = pb.Value(paillier_public_key=msg).SerializeToString()
    start = time.perf_counter()
    for decode in (
        lambda: PublicKey.from_proto(msg),
        lambda: PhePublicKey.from_proto(msg),
        lambda: codec.from_bytes(wire),
    ):
        with pytest.raises(CryptoError, match=f"exceeds the {MAX_KEY_BITS}-bit maximum"):
            decode()
    assert time.perf_counter() - start < 0.5  # three refusals; checking a 1 Mbit modulus takes minutes


def test_leading_zero_bytes_do_not_hide_or_fake_the_size() -> None:
    n = _odd(2048) * 3
    padded = pb.PaillierPublicKey(n=b"\x00" * 10_000 + n.to_bytes((n.bit_length() + 7) // 8, "big"))
    assert PublicKey.from_proto(padded).n == n


def test_the_largest_allowed_modulus_is_accepted() -> None:
    n = 3 * _odd(MAX_KEY_BITS - 2)  # composite, odd, not a square, exactly at the limit
    assert n.bit_length() <= MAX_KEY_BITS
    assert PublicKey.from_proto(_key_message(n)).bits == n.bit_length()


def test_oversized_keys_are_neither_built_nor_generated() -> None:
    with pytest.raises(CryptoError, match="maximum"):
        PublicKey(_odd(MAX_KEY_BITS + 1))
    start = time.perf_counter()
    with pytest.raises(CryptoError, match="maximum"):
        generate_keypair(MAX_KEY_BITS * 2)
    assert time.perf_counter() - start < 0.5
