"""The primitives of secure aggregation: X25519 agreement, HKDF, a ChaCha20 mask generator, AEAD.

Every derived key is bound (through HKDF's ``info``) to its purpose, the round's context
(job, task, attempt, round) and the unordered pair of parties, so a key never serves twice.
"""

from __future__ import annotations

import secrets

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from silobridge.errors import CryptoError

KEY_BYTES = 32
SEED_BYTES = 32
NONCE_BYTES = 12
MASK_PURPOSE = b"pairwise-mask"
SHARE_PURPOSE = b"share-encryption"


def public_bytes(sk: X25519PrivateKey) -> bytes:
    return sk.public_key().public_bytes_raw()


def private_bytes(sk: X25519PrivateKey) -> bytes:
    return sk.private_bytes_raw()


def load_private(raw: bytes) -> X25519PrivateKey:
    try:
        return X25519PrivateKey.from_private_bytes(raw)
    except ValueError:
        raise CryptoError("malformed X25519 private key") from None


def agree(sk: X25519PrivateKey, peer: bytes, purpose: bytes, context: bytes, a: int, b: int) -> bytes:
    """A 32-byte key shared by parties ``a`` and ``b`` (in either order) for one purpose and round."""
    try:
        shared = sk.exchange(X25519PublicKey.from_public_bytes(peer))
    except ValueError:  # wrong length, or a low-order point (all-zero shared secret)
        raise CryptoError("a peer's X25519 public key is invalid") from None
    lo, hi = sorted((a, b))
    info = b"silobridge-secagg-v1|" + purpose + b"|" + context + b"|%d|%d" % (lo, hi)
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=info).derive(shared)


def expand(seed: bytes, size: int) -> np.ndarray:
    """``size`` pseudo-random elements of Z/2^64 from a 32-byte seed (ChaCha20 keystream)."""
    if len(seed) != SEED_BYTES:
        raise CryptoError(f"a mask seed has {SEED_BYTES} bytes")
    # Every seed is used for one stream only, so a fixed nonce (counter 0) is safe.
    stream = Cipher(algorithms.ChaCha20(seed, b"\0" * 16), mode=None).encryptor()
    return np.frombuffer(stream.update(b"\0" * (8 * size)), dtype="<u8").astype(np.uint64)


def fresh_seed() -> bytes:
    return secrets.token_bytes(SEED_BYTES)


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + ChaCha20Poly1305(key).encrypt(nonce, plaintext, aad)


def unseal(key: bytes, blob: bytes, aad: bytes) -> bytes:
    try:
        return ChaCha20Poly1305(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
    except (InvalidTag, ValueError):
        raise CryptoError("an encrypted key share failed authentication") from None
