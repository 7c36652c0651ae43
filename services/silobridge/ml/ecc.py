"""Curve25519 helpers for ECDH PSI: hash ids onto the curve, blind points with a secret scalar.

Hashing follows RFC 9380's ``curve25519_XMD:SHA-512_ELL2_NU_`` encoding up to the map
(expand_message_xmd + Elligator 2) and returns the Montgomery u-coordinate of Q. Blinding is
X25519 (RFC 7748): the optional native kernel (``silobridge.ml.native``, AVX-512 IFMA, eight points
at a time) where it is built and the CPU has IFMA, else ``cryptography``'s, with the same bytes;
an x-only scalar multiplication on an arbitrary u-coordinate. Its clamped scalars are multiples of 8, so the blinding also clears the cofactor,
and since scalar multiplication commutes, ``blind(a, blind(b, P)) == blind(b, blind(a, P))``.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Sequence
from typing import Any

import gmpy2
import numpy as np
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from silobridge.compute.base import ComputeBackend, split
from silobridge.ml import native

P = 2**255 - 19
A = 486662
POINT_BYTES = 32
DEFAULT_DST = b"silobridge-psi-v1-with-curve25519_XMD:SHA-512_ELL2_NU_"

_P = gmpy2.mpz(P)
_A = gmpy2.mpz(A)
_HALF = (P - 1) // 2
# Elligator 2 fails on nothing for Curve25519 (Z=2 is a non-square), but u with 1 + 2u^2 = 0
# maps to x1 = -A, as RFC 9380 specifies through inv0.


def expand_message_xmd(msg: bytes, dst: bytes, length: int) -> bytes:
    """RFC 9380 section 5.3.1 with SHA-512."""
    if len(dst) > 255 or length > 255 * 64:
        raise ValueError("expand_message_xmd: dst or length too large")
    ell = -(-length // 64)
    dst_prime = dst + bytes([len(dst)])
    b0 = hashlib.sha512(bytes(128) + msg + length.to_bytes(2, "big") + b"\x00" + dst_prime).digest()
    out = b_prev = hashlib.sha512(b0 + b"\x01" + dst_prime).digest()
    for i in range(2, ell + 1):
        mixed = bytes(x ^ y for x, y in zip(b0, b_prev, strict=True))
        b_prev = hashlib.sha512(mixed + bytes([i]) + dst_prime).digest()
        out += b_prev
    return out[:length]


def hash_to_field(msg: bytes, dst: bytes) -> int:
    """One field element of GF(2^255-19) from 48 uniform bytes (L = 48 for this suite)."""
    return int.from_bytes(expand_message_xmd(msg, dst, 48), "big") % P


def elligator2(u: int) -> int:
    """RFC 9380 map_to_curve_elligator2 for Curve25519 (J=A, K=1, Z=2): the u-coordinate of Q."""
    uu = gmpy2.mpz(u)
    den = (1 + 2 * uu * uu) % _P
    x1 = (-_A * gmpy2.invert(den, _P)) % _P if den else (-_A) % _P
    gx1 = (x1 * x1 * x1 + _A * x1 * x1 + x1) % _P
    x = x1 if gmpy2.legendre(gx1, _P) >= 0 else (-x1 - _A) % _P
    return int(x)


def hash_to_point(msg: bytes, dst: bytes = DEFAULT_DST) -> bytes:
    """32-byte little-endian u-coordinate (the X25519 wire format) of the point hashed from msg."""
    return elligator2(hash_to_field(msg, dst)).to_bytes(POINT_BYTES, "little")


def new_scalar() -> bytes:
    """A fresh secret blinding scalar (clamped by X25519 on use)."""
    return secrets.token_bytes(32)


def blind_points(scalar: bytes, points: np.ndarray) -> np.ndarray:
    """X25519(scalar, p) for every row of a uint8 [n, 32] array of u-coordinates: the native
    kernel where it is built and the CPU has AVX-512 IFMA, else ``cryptography`` (same bytes)."""
    if native.available():
        out, bad = native.x25519(scalar, points)
        if bad >= 0:
            raise ValueError(f"point {bad} has small order")
        return out
    key = X25519PrivateKey.from_private_bytes(scalar)
    out = np.empty((len(points), POINT_BYTES), dtype=np.uint8)
    for i, row in enumerate(points):
        try:
            shared = key.exchange(X25519PublicKey.from_public_bytes(row.tobytes()))
        except ValueError:  # a low-order point: only a malformed or malicious peer sends one
            raise ValueError(f"point {i} has small order") from None
        out[i] = np.frombuffer(shared, dtype=np.uint8)
    return out


def _field_elements(items: Sequence[bytes | str], dst: bytes) -> np.ndarray:
    """``hash_to_field`` of many messages, as 32-byte little-endian values (uint8 [n, 32]).

    The same bytes as ``expand_message_xmd(msg, dst, 48)`` (one 64-byte block, so ``b1`` alone),
    with the hash of the 128 zero bytes that start every ``b0`` computed once."""
    if len(dst) > 255:
        raise ValueError("expand_message_xmd: dst or length too large")
    dst_prime = dst + bytes([len(dst)])
    tail0, tail1 = (48).to_bytes(2, "big") + b"\x00" + dst_prime, b"\x01" + dst_prime
    head = hashlib.sha512(bytes(128))
    out = bytearray(POINT_BYTES * len(items))
    for i, item in enumerate(items):
        h = head.copy()
        h.update(item if isinstance(item, bytes) else str(item).encode("utf-8"))
        h.update(tail0)
        b1 = hashlib.sha512(h.digest() + tail1).digest()
        out[POINT_BYTES * i : POINT_BYTES * (i + 1)] = (int.from_bytes(b1[:48], "big") % P).to_bytes(
            POINT_BYTES, "little"
        )
    return np.frombuffer(out, dtype=np.uint8).reshape(len(items), POINT_BYTES)


def _hash_chunk(args: tuple[Sequence[str] | np.ndarray, bytes]) -> np.ndarray:
    ids, dst = args
    # Python objects for one chunk only: ``S`` arrays give bytes (UTF-8 already), ``U`` arrays str.
    fields = _field_elements(ids.tolist() if isinstance(ids, np.ndarray) else list(ids), dst)
    points = native.elligator2(fields) if native.available() else None
    if points is not None:
        return points
    out = np.empty_like(fields)
    for i, u in enumerate(fields):
        out[i] = np.frombuffer(
            elligator2(int.from_bytes(u.tobytes(), "little")).to_bytes(32, "little"), np.uint8
        )
    return out


def _blind_chunk(args: tuple[bytes, np.ndarray]) -> np.ndarray:
    return blind_points(args[0], args[1])


def _hash_blind_chunk(args: tuple[Sequence[str] | np.ndarray, bytes, bytes]) -> np.ndarray:
    ids, dst, scalar = args
    return blind_points(scalar, _hash_chunk((ids, dst)))


# Rows per unit of work: each unit's Python objects and output stay a few MB however many ids.
CHUNK_ROWS = 65_536


def _map_rows(
    fn: Callable[[Any], np.ndarray],
    item: Callable[[int, int], Any],
    n: int,
    compute: ComputeBackend | None,
) -> np.ndarray:
    """``fn`` over the chunks of ``range(n)``, written into one [n, 32] array a round of chunks at
    a time: the chunks' outputs are never all held beside the result."""
    workers = compute.workers if compute is not None else 1
    chunks = split(n, max(workers * 4, -(-n // CHUNK_ROWS)))
    out = np.empty((n, POINT_BYTES), dtype=np.uint8)
    for g in range(0, len(chunks), workers * 4):
        group = chunks[g : g + workers * 4]
        items = [item(a, b) for a, b in group]
        parts = compute.map(fn, items) if compute is not None else [fn(i) for i in items]
        for (a, b), part in zip(group, parts, strict=True):
            out[a:b] = part
    return out


def hash_ids(
    ids: Sequence[str] | np.ndarray, compute: ComputeBackend | None = None, dst: bytes = DEFAULT_DST
) -> np.ndarray:
    """Hash ids (str, or UTF-8 ``bytes`` / an ``S`` array) to points, uint8 [n, 32], in chunks over
    the compute backend."""
    return _map_rows(_hash_chunk, lambda a, b: (ids[a:b], dst), len(ids), compute)


def hash_blind(
    scalar: bytes,
    ids: Sequence[str] | np.ndarray,
    compute: ComputeBackend | None = None,
    dst: bytes = DEFAULT_DST,
) -> np.ndarray:
    """``blind(scalar, hash_ids(ids))`` in one pass: each unit of work hashes and blinds its chunk,
    so the hashed points never travel between the workers and the caller."""
    return _map_rows(_hash_blind_chunk, lambda a, b: (ids[a:b], dst, scalar), len(ids), compute)


def blind(
    scalar: bytes, points: np.ndarray, compute: ComputeBackend | None = None, rows: np.ndarray | None = None
) -> np.ndarray:
    """Blind every point with ``scalar`` (or the points at ``rows``, in that order), in chunks
    over the compute backend."""
    if rows is None:
        return _map_rows(_blind_chunk, lambda a, b: (scalar, points[a:b]), len(points), compute)
    return _map_rows(_blind_chunk, lambda a, b: (scalar, points[rows[a:b]]), len(rows), compute)


def x_double(u: int) -> int:
    """x-only doubling on Curve25519 (for tests against RFC vectors that clear the cofactor)."""
    num = pow(u * u - 1, 2, P)
    den = 4 * u * (u * u + A * u + 1) % P
    return num * pow(den, P - 2, P) % P
