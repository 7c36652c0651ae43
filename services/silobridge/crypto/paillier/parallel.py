"""Batch operations split into chunks and run through a compute backend.

Chunk functions are module-level and take/return plain data (ints, bytes, numpy arrays), so the
thread, process and Ray backends can all run them. Key material travels to workers inside the
party only (compute backends never cross a party boundary); each worker process builds its
fixed-base tables once and caches them (``kernels``). Every worker draws its own randomness from
the OS CSPRNG, so chunks never share obfuscators.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
from gmpy2 import mpz

from silobridge.compute.base import ComputeBackend, split
from silobridge.crypto.paillier import kernels
from silobridge.crypto.paillier.wire import pack_ciphertexts, unpack_ciphertexts, width_of

T = TypeVar("T")

# Below these sizes a chunk costs more to ship than to compute.
MIN_CHUNK_ENCRYPT = 16
MIN_CHUNK_MULTIEXP = 256


def chunk_bounds(compute: ComputeBackend, n_items: int, min_chunk: int) -> list[tuple[int, int]]:
    parts = max(1, min(compute.workers, n_items // max(1, min_chunk)))
    return split(n_items, parts)


def run_chunks(
    compute: ComputeBackend,
    n_items: int,
    min_chunk: int,
    make_item: Callable[[int, int], T],
    fn: Callable[[T], Any],
) -> list[Any]:
    bounds = chunk_bounds(compute, n_items, min_chunk)
    return compute.map(fn, [make_item(lo, hi) for lo, hi in bounds])


# --- chunk functions (run in workers) ---------------------------------------------------------


def encrypt_public_chunk(item: tuple[int, int, int, int, list[int]]) -> bytes:
    n, h, exp_bits, window, residues = item
    return pack_ciphertexts(kernels.encrypt_public(residues, n, h, exp_bits, window), width_of(n * n))


def encrypt_crt_chunk(item: tuple[int, int, int, int, list[int]]) -> bytes:
    p, q, h, window, residues = item
    n = p * q
    return pack_ciphertexts(kernels.encrypt_crt(residues, p, q, h, window), width_of(n * n))


def obfuscate_public_chunk(item: tuple[int, int, int, int, bytes]) -> bytes:
    n, h, exp_bits, window, blob = item
    width = width_of(n * n)
    cts = unpack_ciphertexts(blob, width)
    return pack_ciphertexts(kernels.obfuscate_public(cts, n, h, exp_bits, window), width)


def obfuscate_crt_chunk(item: tuple[int, int, int, int, bytes]) -> bytes:
    p, q, h, window, blob = item
    width = width_of((p * q) ** 2)
    cts = unpack_ciphertexts(blob, width)
    return pack_ciphertexts(kernels.obfuscate_crt(cts, p, q, h, window), width)


def obfuscators_chunk(item: tuple[int, int, int, int, int]) -> bytes:
    n, h, exp_bits, window, count = item
    return pack_ciphertexts(kernels.make_public_obfuscators(count, n, h, exp_bits, window), width_of(n * n))


def decrypt_chunk(item: tuple[int, int, bytes]) -> list[int]:
    p, q, blob = item
    return kernels.decrypt_crt(unpack_ciphertexts(blob, width_of((p * q) ** 2)), p, q)


def mul_chunk(item: tuple[int, bytes, list[int]]) -> bytes:
    n2, blob, scalars = item
    width = width_of(n2)
    cts = unpack_ciphertexts(blob, width)
    return pack_ciphertexts(kernels.mul_scalars(cts, scalars, mpz(n2)), width)


def rmatmul_chunk(item: tuple[int, bytes, np.ndarray]) -> bytes:
    n2, blob, scalars = item
    width = width_of(n2)
    cts = unpack_ciphertexts(blob, width)
    return pack_ciphertexts(kernels.rmatmul(cts, scalars, mpz(n2)), width)


# --- dispatch (run in the caller) -------------------------------------------------------------


def encrypt_public(
    residues: list[int], n: int, h: int, exp_bits: int, window: int, compute: ComputeBackend | None
) -> list[mpz]:
    if compute is None:
        return kernels.encrypt_public(residues, n, h, exp_bits, window)
    blobs = run_chunks(
        compute,
        len(residues),
        MIN_CHUNK_ENCRYPT,
        lambda lo, hi: (n, h, exp_bits, window, residues[lo:hi]),
        encrypt_public_chunk,
    )
    return _join(blobs, width_of(n * n))


def encrypt_crt(
    residues: list[int], p: int, q: int, h: int, window: int, compute: ComputeBackend | None
) -> list[mpz]:
    if compute is None:
        return kernels.encrypt_crt(residues, p, q, h, window)
    blobs = run_chunks(
        compute,
        len(residues),
        MIN_CHUNK_ENCRYPT,
        lambda lo, hi: (p, q, h, window, residues[lo:hi]),
        encrypt_crt_chunk,
    )
    return _join(blobs, width_of((p * q) ** 2))


def obfuscate_public(
    cts: Sequence[mpz], n: int, h: int, exp_bits: int, window: int, compute: ComputeBackend | None
) -> list[mpz]:
    if compute is None:
        return kernels.obfuscate_public(cts, n, h, exp_bits, window)
    width = width_of(n * n)
    blobs = run_chunks(
        compute,
        len(cts),
        MIN_CHUNK_ENCRYPT,
        lambda lo, hi: (n, h, exp_bits, window, pack_ciphertexts(cts[lo:hi], width)),
        obfuscate_public_chunk,
    )
    return _join(blobs, width)


def obfuscate_crt(
    cts: Sequence[mpz], p: int, q: int, h: int, window: int, compute: ComputeBackend | None
) -> list[mpz]:
    if compute is None:
        return kernels.obfuscate_crt(cts, p, q, h, window)
    width = width_of((p * q) ** 2)
    blobs = run_chunks(
        compute,
        len(cts),
        MIN_CHUNK_ENCRYPT,
        lambda lo, hi: (p, q, h, window, pack_ciphertexts(cts[lo:hi], width)),
        obfuscate_crt_chunk,
    )
    return _join(blobs, width)


def public_obfuscators(
    count: int, n: int, h: int, exp_bits: int, window: int, compute: ComputeBackend | None
) -> list[mpz]:
    """``count`` fresh ``h**r``; every worker draws its own ``r`` from the OS CSPRNG."""
    if compute is None:
        return kernels.make_public_obfuscators(count, n, h, exp_bits, window)
    blobs = run_chunks(
        compute, count, MIN_CHUNK_ENCRYPT, lambda lo, hi: (n, h, exp_bits, window, hi - lo), obfuscators_chunk
    )
    return _join(blobs, width_of(n * n))


def decrypt(cts: Sequence[mpz], p: int, q: int, compute: ComputeBackend | None) -> list[int]:
    if compute is None:
        return kernels.decrypt_crt(cts, p, q)
    width = width_of((p * q) ** 2)
    parts = run_chunks(
        compute,
        len(cts),
        MIN_CHUNK_ENCRYPT,
        lambda lo, hi: (p, q, pack_ciphertexts(cts[lo:hi], width)),
        decrypt_chunk,
    )
    return [m for part in parts for m in part]


def mul(cts: Sequence[mpz], scalars: list[int], n2: mpz, compute: ComputeBackend | None) -> list[mpz]:
    if compute is None:
        return kernels.mul_scalars(cts, scalars, n2)
    width = width_of(n2)
    blobs = run_chunks(
        compute,
        len(cts),
        MIN_CHUNK_ENCRYPT,
        lambda lo, hi: (int(n2), pack_ciphertexts(cts[lo:hi], width), scalars[lo:hi]),
        mul_chunk,
    )
    return _join(blobs, width)


def rmatmul(cts: Sequence[mpz], scalars: np.ndarray, n2: mpz, compute: ComputeBackend | None) -> list[mpz]:
    """``[prod_i cts[i]**scalars[i, j]]`` with row chunks in parallel and one product per column."""
    if compute is None:
        return kernels.rmatmul(cts, scalars, n2)
    width = width_of(n2)
    blobs = run_chunks(
        compute,
        len(cts),
        MIN_CHUNK_MULTIEXP,
        lambda lo, hi: (int(n2), pack_ciphertexts(cts[lo:hi], width), scalars[lo:hi]),
        rmatmul_chunk,
    )
    partials = [unpack_ciphertexts(b, width) for b in blobs]
    out = partials[0]
    for part in partials[1:]:
        out = kernels.add_encrypted(out, part, n2)
    return out


def _join(blobs: list[bytes], width: int) -> list[mpz]:
    return unpack_ciphertexts(b"".join(blobs), width)
