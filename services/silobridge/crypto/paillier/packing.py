"""Plaintext packing: several bounded fixed-point values in one ciphertext, summable exactly.

A row ``(v_1, ..., v_k)`` with ``lo_j <= v_j <= hi_j`` becomes the plaintext
``1 + sum_j q_j * 2**(bits*j)`` with ``q_j = round((v_j - lo_j) * 2**precision_bits)``: slot 0 counts
rows, slots 1..k hold the offset values. Adding ciphertexts adds every slot at once. ``bits`` is
chosen so that the sum of ``max_rows`` rows cannot carry from one slot into the next, so decoding a
sum of up to ``max_rows`` rows is exact; the count slot tells the decoder how many offsets to remove
and lets it refuse a sum of more rows than the layout was sized for.

For gradient/hessian pairs this halves the ciphertexts (and the encryption, transfer, summation
and decryption work) of encrypting the two columns separately.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from silobridge.compute.base import ComputeBackend
from silobridge.crypto.paillier.keys import PrivateKey, PublicKey
from silobridge.crypto.paillier.vector import EncryptedVector, Packing
from silobridge.errors import CryptoError


@dataclass(frozen=True)
class PackedSums:
    """Decoded packed sums: rows summed per ciphertext, exact quantized sums, and their values."""

    counts: np.ndarray  # int64, (m,)
    quantized: list[list[int]]  # exact integer slot sums, (m, k)
    values: np.ndarray  # float64, (m, k): quantized * 2**-precision_bits + count * lo


class PackedEncoder:
    """Layout for packing ``len(bounds)`` bounded columns per ciphertext (plus a row count)."""

    def __init__(
        self, bounds: Sequence[tuple[float, float]], *, max_rows: int, precision_bits: int = 53
    ) -> None:
        if not bounds:
            raise CryptoError("packing needs at least one column")
        if max_rows < 1:
            raise CryptoError(f"max_rows must be at least 1, got {max_rows}")
        if not 0 <= precision_bits <= 512:
            raise CryptoError(f"precision_bits must be in [0, 512], got {precision_bits}")
        self.lo = np.array([float(lo) for lo, _ in bounds])
        self.hi = np.array([float(hi) for _, hi in bounds])
        if not (np.isfinite(self.lo).all() and np.isfinite(self.hi).all()) or (self.hi < self.lo).any():
            raise CryptoError(f"packing bounds must be finite with lo <= hi, got {list(bounds)}")
        self.max_rows = int(max_rows)
        self.precision_bits = int(precision_bits)
        # Largest quantized value of one row, per column: ceil((hi - lo) * 2**f) (+1 for rounding).
        scale = 2.0**precision_bits
        self._qmax = [math.ceil((h - lo) * scale) + 1 for lo, h in zip(self.lo, self.hi, strict=True)]
        widest = max(max(self._qmax) * self.max_rows, self.max_rows)
        self.bits: int = int(widest).bit_length()
        self.columns = len(bounds)
        self.slots = self.columns + 1

    @property
    def total_bits(self) -> int:
        return self.slots * self.bits

    @property
    def packing(self) -> Packing:
        return Packing(self.slots, self.bits)

    def check_key(self, public_key: PublicKey) -> None:
        if self.total_bits > public_key.bits - 2:
            fit = (public_key.bits - 2) // self.bits - 1
            raise CryptoError(
                f"{self.columns} packed columns of {self.bits} bits (+ count slot) need {self.total_bits} bits; "
                f"a {public_key.bits}-bit key holds at most {max(fit, 0)} such columns"
            )

    # -- plaintext side --------------------------------------------------------------------------

    def quantize(self, values: np.ndarray) -> list[list[int]]:
        """Per row, the slot integers ``round((v - lo) * 2**f)``; raises on values outside the bounds."""
        arr = np.asarray(values, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != self.columns:
            raise CryptoError(f"expected an (n, {self.columns}) array of values, got shape {arr.shape}")
        if not np.isfinite(arr).all():
            raise CryptoError("cannot pack non-finite values")
        below = arr < self.lo
        above = arr > self.hi
        if below.any() or above.any():
            r, c = np.argwhere(below | above)[0]
            raise CryptoError(
                f"value {arr[r, c]:.6g} in column {c} (row {r}) is outside the packing bounds "
                f"[{self.lo[c]:.6g}, {self.hi[c]:.6g}]"
            )
        shifted = np.ldexp(arr - self.lo, self.precision_bits)  # exact when (v - lo) is exact
        rounded = np.rint(shifted)
        if rounded.size == 0 or float(rounded.max()) < 2.0**62:
            as_int: list[list[int]] = rounded.astype(np.int64).tolist()
            return as_int
        return [[int(v) for v in row] for row in rounded.tolist()]

    def pack(self, values: np.ndarray) -> list[int]:
        """Plaintext integers, one per row: ``1 + sum_j q_j << (bits * (j + 1))``."""
        b = self.bits
        out = []
        for row in self.quantize(values):
            m = 1
            for j, q in enumerate(row, start=1):
                m |= q << (b * j)
            out.append(m)
        return out

    def unpack(self, residues: Sequence[int]) -> PackedSums:
        """Decode sums of packed rows; exact, and raises when a sum exceeds the layout's bounds."""
        b = self.bits
        mask = (1 << b) - 1
        limit = 1 << self.total_bits
        counts = np.empty(len(residues), dtype=np.int64)
        quantized: list[list[int]] = []
        values = np.empty((len(residues), self.columns), dtype=np.float64)
        for i, r in enumerate(residues):
            if r >= limit:
                raise CryptoError(
                    f"packed plaintext {i} exceeds the {self.total_bits}-bit layout (overflow or foreign data)"
                )
            count = r & mask
            if count > self.max_rows:
                raise CryptoError(
                    f"packed sum {i} covers {count} rows, more than the layout's bound of {self.max_rows} rows"
                )
            qs = [(r >> (b * j)) & mask for j in range(1, self.slots)]
            counts[i] = count
            quantized.append(qs)
            for j, q in enumerate(qs):
                values[i, j] = math.ldexp(float(q), -self.precision_bits) + count * self.lo[j]
        return PackedSums(counts, quantized, values)

    # -- encrypted side -----------------------------------------------------------------------------

    def encrypt(
        self,
        key: PublicKey | PrivateKey,
        values: np.ndarray,
        *,
        compute: ComputeBackend | None = None,
    ) -> EncryptedVector:
        """One ciphertext per row (CRT-fast when given the private key)."""
        pk = key.public_key if isinstance(key, PrivateKey) else key
        self.check_key(pk)
        cts = key.encrypt_residues(self.pack(values), compute=compute)
        return EncryptedVector(
            pk, cts, np.zeros(len(cts), dtype=np.int64), randomised=True, packing=self.packing
        )

    def decrypt(
        self, private_key: PrivateKey, ev: EncryptedVector, *, compute: ComputeBackend | None = None
    ) -> PackedSums:
        if ev.packing != self.packing:
            raise CryptoError(f"vector packing {ev.packing} does not match this encoder's {self.packing}")
        return self.unpack(private_key.decrypt_raw(ev, compute=compute))
