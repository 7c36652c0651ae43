"""Ciphertexts as fixed-width big-endian bytes: the wire format and the format chunks travel in.

Bytes (not pickled gmpy2 objects) so that a chunk is plain data for any compute backend, and so
that the same parser validates what a peer sends.
"""

from __future__ import annotations

from collections.abc import Sequence

from gmpy2 import mpz

from silobridge.errors import CryptoError


def width_of(nsquare: int) -> int:
    """Bytes per ciphertext for a key: ``ceil(bits(n^2) / 8)``."""
    return (int(nsquare).bit_length() + 7) // 8


def pack_ciphertexts(cts: Sequence[mpz], width: int) -> bytes:
    return b"".join(int(c).to_bytes(width, "big") for c in cts)


def unpack_ciphertexts(data: bytes, width: int, count: int | None = None) -> list[mpz]:
    if width <= 0:
        raise CryptoError(f"ciphertext width must be positive, got {width}")
    if len(data) % width:
        raise CryptoError(f"ciphertext data of {len(data)} bytes is not a multiple of the width {width}")
    total = len(data) // width
    if count is not None and total != count:
        raise CryptoError(f"ciphertext data holds {total} ciphertexts, header says {count}")
    view = memoryview(data)
    return [mpz(int.from_bytes(view[i * width : (i + 1) * width], "big")) for i in range(total)]
