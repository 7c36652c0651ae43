"""Encrypted histograms: per bin, the homomorphic sum of the packed ``[[g, h]]`` of its rows.

The host computes them through the compute backend (features split into chunks, each chunk a
module-level function on plain bytes, so threads, processes or Ray can run it); the guest
decrypts them and unpacks ``(count, G, H)`` per bin. Sibling histograms are never computed:
the guest derives them in plaintext as parent minus the smaller child.
"""

from __future__ import annotations

import numpy as np
from gmpy2 import mpz

from silobridge.compute.base import ComputeBackend, split
from silobridge.crypto import EncryptedVector, PackedEncoder, PrivateKey
from silobridge.crypto.paillier import kernels
from silobridge.crypto.paillier.wire import pack_ciphertexts, unpack_ciphertexts, width_of

ONE = mpz(1)


def histogram_chunk(item: tuple[int, bytes, np.ndarray, list[int]]) -> bytes:
    """Products of ciphertexts per (feature, bin) for one node and a chunk of features."""
    n2_int, blob, binned, sizes = item
    width = width_of(n2_int)
    n2 = mpz(n2_int)
    cts = unpack_ciphertexts(blob, width)
    out: list[mpz] = []
    with kernels.release_gil():
        for j, size in enumerate(sizes):
            acc: list[mpz | None] = [None] * size
            for c, b in zip(cts, binned[:, j].tolist(), strict=True):
                a = acc[b]
                acc[b] = c if a is None else a * c % n2
            out.extend(ONE if a is None else a for a in acc)
    return pack_ciphertexts(out, width)


def encrypted_histograms(
    gh: list[EncryptedVector],
    binned: np.ndarray,
    sizes: list[int],
    node_rows: list[np.ndarray],
    compute: ComputeBackend,
) -> list[EncryptedVector]:
    """For every encrypted column of ``gh``: the histograms of the nodes, concatenated (not re-randomised)."""
    out = []
    chunks = split(len(sizes), max(1, compute.workers))
    for ev in gh:
        n2 = int(ev.public_key.nsquare)
        width = width_of(n2)
        blob = pack_ciphertexts(ev.ciphertexts, width)
        items = []
        for rows in node_rows:
            node_blob = (
                blob if len(rows) == len(ev) else pack_ciphertexts([ev.ciphertexts[i] for i in rows], width)
            )
            sub = binned[rows]
            items += [(n2, node_blob, np.ascontiguousarray(sub[:, lo:hi]), sizes[lo:hi]) for lo, hi in chunks]
        parts = compute.map(histogram_chunk, items)
        cts = [c for part in parts for c in unpack_ciphertexts(part, width)]
        out.append(
            EncryptedVector(
                ev.public_key, cts, np.zeros(len(cts), dtype=np.int64), randomised=False, packing=ev.packing
            )
        )
    return out


def decrypt_histograms(
    sk: PrivateKey, encoders: list[PackedEncoder], hists: list[EncryptedVector], compute: ComputeBackend
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(count, G, H)`` per bin from the decrypted packed sums (one vector per encoder)."""
    columns = []
    count = np.zeros(0)
    for i, (encoder, ev) in enumerate(zip(encoders, hists, strict=True)):
        sums = encoder.decrypt(sk, ev, compute=compute)
        if i == 0:
            count = sums.counts.astype(np.float64)
        columns += [sums.values[:, j] for j in range(encoder.columns)]
    return count, columns[0], columns[1]


def plain_histograms(
    binned: np.ndarray, offsets: np.ndarray, total: int, rows: np.ndarray, g: np.ndarray, h: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The guest's own ``(count, G, H)`` per (feature, bin) of a node, flat like a decrypted histogram."""
    idx = (binned[rows] + offsets[None, :]).ravel()
    reps = binned.shape[1]
    count = np.bincount(idx, minlength=total).astype(np.float64)
    grad = np.bincount(idx, weights=np.repeat(g[rows], reps), minlength=total)
    hess = np.bincount(idx, weights=np.repeat(h[rows], reps), minlength=total)
    return count, grad, hess


def padded(flat: np.ndarray, sizes: list[int], max_bins: int) -> np.ndarray:
    """Flat per-feature bins (value bins then missing) -> (features, max_bins + 1), missing last."""
    out = np.zeros((len(sizes), max_bins + 1))
    start = 0
    for j, size in enumerate(sizes):
        out[j, : size - 1] = flat[start : start + size - 1]
        out[j, -1] = flat[start + size - 1]
        start += size
    return out
