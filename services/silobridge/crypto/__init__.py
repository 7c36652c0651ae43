"""Cryptography for federated learning: the Paillier engine (see ``silobridge.crypto.paillier``)."""

from silobridge.crypto.paillier import (
    EncryptedVector,
    PackedEncoder,
    PackedSums,
    Packing,
    PrivateKey,
    PublicKey,
    generate_keypair,
)

__all__ = [
    "EncryptedVector",
    "PackedEncoder",
    "PackedSums",
    "Packing",
    "PrivateKey",
    "PublicKey",
    "generate_keypair",
]
