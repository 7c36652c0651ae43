"""Paillier engine: phe-compatible keys, batch encryption with fixed-base tables, CRT for the key
holder, multi-exponentiation for encrypted dot products, plaintext packing, chunked parallelism.

The algorithms and the security assumption are described in ``docs/crypto.md``.
"""

from silobridge.crypto.paillier.keys import PrivateKey, PublicKey, generate_keypair
from silobridge.crypto.paillier.packing import PackedEncoder, PackedSums
from silobridge.crypto.paillier.vector import EncryptedVector, Packing

__all__ = [
    "EncryptedVector",
    "PackedEncoder",
    "PackedSums",
    "Packing",
    "PrivateKey",
    "PublicKey",
    "generate_keypair",
]
