"""Shamir secret sharing over GF(2^521 - 1): a byte string into ``n`` shares, any ``t`` of which rebuild it.

Secrets here are 32-byte seeds and X25519 private keys, far below the field size, so a secret
is one field element. Shares are fixed-width big-endian field elements at x = 1, 2, ...
(the position of the holder in the round's roster); fewer than ``t`` shares reveal nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence

from silobridge.errors import CryptoError

PRIME = 2**521 - 1  # a Mersenne prime
SHARE_BYTES = 66
MAX_SECRET_BYTES = 64


def split(secret: bytes, xs: Sequence[int], threshold: int) -> dict[int, bytes]:
    """One share per x in ``xs`` (distinct, in [1, PRIME)); ``threshold`` of them rebuild ``secret``."""
    if len(secret) > MAX_SECRET_BYTES:
        raise CryptoError(f"a Shamir secret holds at most {MAX_SECRET_BYTES} bytes")
    if not 1 <= threshold <= len(xs) or len(set(xs)) != len(xs) or any(not 0 < x < PRIME for x in xs):
        raise CryptoError(f"cannot split a secret {threshold}-of-{len(xs)} at x = {sorted(xs)}")
    coefficients = [int.from_bytes(secret, "big")] + [secrets.randbelow(PRIME) for _ in range(threshold - 1)]
    shares: dict[int, bytes] = {}
    for x in xs:
        y = 0
        for c in reversed(coefficients):  # Horner
            y = (y * x + c) % PRIME
        shares[x] = y.to_bytes(SHARE_BYTES, "big")
    return shares


def combine(shares: Mapping[int, bytes], threshold: int, size: int) -> bytes:
    """The ``size``-byte secret from at least ``threshold`` shares (Lagrange interpolation at 0)."""
    if len(shares) < threshold:
        raise CryptoError(f"{len(shares)} shares cannot rebuild a secret that needs {threshold}")
    points = sorted(shares.items())[:threshold]
    ys: list[int] = []
    for _, raw in points:
        if len(raw) != SHARE_BYTES or int.from_bytes(raw, "big") >= PRIME:
            raise CryptoError("malformed Shamir share")
        ys.append(int.from_bytes(raw, "big"))
    secret = 0
    for i, (xi, _) in enumerate(points):
        num, den = 1, 1
        for j, (xj, _) in enumerate(points):
            if i != j:
                num = num * xj % PRIME
                den = den * (xj - xi) % PRIME
        secret = (secret + ys[i] * num * pow(den, -1, PRIME)) % PRIME
    if secret >= 256**size:
        raise CryptoError("the Shamir shares do not rebuild a secret of the expected size")
    return secret.to_bytes(size, "big")
