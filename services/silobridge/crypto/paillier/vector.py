"""``EncryptedVector``: a batch of Paillier ciphertexts with fixed-point exponents.

Homomorphic results (``+``, ``*``, ``sum``, ``dot``, ``rmatmul``) are *not* freshly randomised: a
party that knows the inputs could recognise them. :meth:`EncryptedVector.obfuscate` multiplies in
fresh obfuscators, and :meth:`EncryptedVector.to_proto` refuses to serialise a vector that needs it.
Bytes from a peer are untrusted: :meth:`EncryptedVector.from_proto` checks the key fingerprint,
width, count, exponents and that every ciphertext is a unit below ``n^2``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gmpy2
import numpy as np
from gmpy2 import mpz

from silobridge.compute.base import ComputeBackend
from silobridge.crypto.paillier import encoding, kernels, parallel
from silobridge.crypto.paillier.keys import PrivateKey, PublicKey
from silobridge.crypto.paillier.multiexp import batch_invert
from silobridge.crypto.paillier.pool import ObfuscatorPool
from silobridge.crypto.paillier.wire import pack_ciphertexts, unpack_ciphertexts, width_of
from silobridge.errors import CryptoError
from silobridge.federation.v1 import values_pb2

Plain = np.ndarray | float | int | Sequence[float] | Sequence[int]


@dataclass(frozen=True)
class Packing:
    """Plaintext packing layout: ``slots`` fields of ``bits`` bits each (see ``packing.py``)."""

    slots: int
    bits: int


class EncryptedVector:
    """A 1-D vector of ciphertexts under one public key."""

    __array_ufunc__ = None  # make ``ndarray + ev`` / ``ndarray * ev`` call our reflected operators

    def __init__(
        self,
        public_key: PublicKey,
        ciphertexts: list[mpz],
        exponents: np.ndarray,
        *,
        randomised: bool,
        packing: Packing | None = None,
    ) -> None:
        if len(exponents) != len(ciphertexts):
            raise CryptoError(f"{len(ciphertexts)} ciphertexts with {len(exponents)} exponents")
        self.public_key = public_key
        self.ciphertexts = ciphertexts
        self.exponents = np.asarray(exponents, dtype=np.int64)
        self.randomised = randomised
        self.packing = packing

    # -- container ------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.ciphertexts)

    def __repr__(self) -> str:
        return (
            f"EncryptedVector(len={len(self)}, key={self.public_key.fingerprint()[:6].hex()}, "
            f"exponent={self._exponent_text()}, randomised={self.randomised}"
            + (f", packing={self.packing.slots}x{self.packing.bits}" if self.packing else "")
            + ")"
        )

    def _exponent_text(self) -> str:
        if len(self) == 0:
            return "-"
        lo, hi = int(self.exponents.min()), int(self.exponents.max())
        return str(lo) if lo == hi else f"{lo}..{hi}"

    @property
    def exponent(self) -> int:
        """The shared exponent; raises if elements differ (call :meth:`align` first)."""
        if len(self) == 0:
            return 0
        lo, hi = int(self.exponents.min()), int(self.exponents.max())
        if lo != hi:
            raise CryptoError(f"vector has mixed exponents {lo}..{hi}: align them first")
        return lo

    def _derive(
        self,
        cts: list[mpz],
        exponents: np.ndarray | None = None,
        *,
        randomised: bool = False,
    ) -> EncryptedVector:
        exps = self.exponents if exponents is None else exponents
        return EncryptedVector(self.public_key, cts, exps, randomised=randomised, packing=self.packing)

    def __getitem__(self, index: int | slice | np.ndarray | Sequence[int]) -> EncryptedVector:
        """A sub-vector (an int index gives a vector of length 1); shares ciphertext objects."""
        if isinstance(index, slice):
            return self._derive(self.ciphertexts[index], self.exponents[index], randomised=self.randomised)
        if isinstance(index, int | np.integer):
            i = int(index)
            if not -len(self) <= i < len(self):
                raise IndexError(f"index {i} out of range for EncryptedVector of length {len(self)}")
            i %= len(self)
            return self._derive([self.ciphertexts[i]], self.exponents[i : i + 1], randomised=self.randomised)
        idx = np.asarray(index)
        if idx.dtype == bool:
            if idx.shape != (len(self),):
                raise IndexError(f"boolean mask of shape {idx.shape} for length {len(self)}")
            idx = np.flatnonzero(idx)
        if idx.dtype.kind not in "iu":
            raise IndexError(f"cannot index an EncryptedVector with {idx.dtype}")
        idx = idx.reshape(-1)
        if idx.size and (idx.max() >= len(self) or idx.min() < -len(self)):
            raise IndexError(f"index out of range for EncryptedVector of length {len(self)}")
        cts = self.ciphertexts
        return self._derive([cts[i] for i in idx.tolist()], self.exponents[idx], randomised=self.randomised)

    @staticmethod
    def concatenate(vectors: Sequence[EncryptedVector]) -> EncryptedVector:
        if not vectors:
            raise CryptoError("concatenate needs at least one vector")
        first = vectors[0]
        for v in vectors[1:]:
            first._check_compatible(v)
        cts = [c for v in vectors for c in v.ciphertexts]
        exps = np.concatenate([v.exponents for v in vectors])
        return EncryptedVector(
            first.public_key, cts, exps, randomised=all(v.randomised for v in vectors), packing=first.packing
        )

    def _check_compatible(self, other: EncryptedVector) -> None:
        if other.public_key != self.public_key:
            raise CryptoError("encrypted vectors belong to different public keys")
        if other.packing != self.packing:
            raise CryptoError(f"packing layouts differ: {self.packing} vs {other.packing}")

    # -- exponents -------------------------------------------------------------------------------

    def align(self, exponent: int) -> EncryptedVector:
        """Same values with every exponent lowered to ``exponent`` (costs one small power each)."""
        self._no_packing("exponent alignment")
        if len(self) and exponent > int(self.exponents.min()):
            raise CryptoError(f"cannot raise exponents to {exponent} (min is {int(self.exponents.min())})")
        if exponent < -encoding.MAX_ABS_EXPONENT:
            raise CryptoError(f"exponent {exponent} is below -{encoding.MAX_ABS_EXPONENT}")
        shifts = (self.exponents - exponent).tolist()
        if not any(shifts):
            return self
        cts = kernels.scale_by_base_power(self.ciphertexts, shifts, self._n2)
        return self._derive(cts, np.full(len(self), exponent, dtype=np.int64))

    @property
    def _n2(self) -> mpz:
        return self.public_key._nsquare_mpz

    def _no_packing(self, what: str) -> None:
        if self.packing is not None:
            raise CryptoError(f"{what} is not defined on packed vectors (only sums of packed rows are)")

    # -- arithmetic -------------------------------------------------------------------------------

    def __add__(self, other: EncryptedVector | Plain) -> EncryptedVector:
        if isinstance(other, EncryptedVector):
            return self._add_encrypted(other)
        return self._add_plain(other)

    def __radd__(self, other: Plain) -> EncryptedVector:
        return self.__add__(other)

    def __sub__(self, other: EncryptedVector | Plain) -> EncryptedVector:
        if isinstance(other, EncryptedVector):
            return self._add_encrypted(-other)
        return self._add_plain(-encoding.as_array(other))

    def __rsub__(self, other: Plain) -> EncryptedVector:
        return (-self)._add_plain(other)

    def __neg__(self) -> EncryptedVector:
        self._no_packing("negation")
        return self._derive(batch_invert(self.ciphertexts, self._n2))

    def _add_encrypted(self, other: EncryptedVector) -> EncryptedVector:
        self._check_compatible(other)
        a, b = self, other
        if len(a) != len(b):
            if len(b) == 1:
                b = b[np.zeros(len(a), dtype=np.int64)]
            elif len(a) == 1:
                a = a[np.zeros(len(b), dtype=np.int64)]
            else:
                raise CryptoError(f"cannot add encrypted vectors of lengths {len(a)} and {len(b)}")
        if a.packing is None and not np.array_equal(a.exponents, b.exponents):
            target = np.minimum(a.exponents, b.exponents)
            a = a._lower_to(target)
            b = b._lower_to(target)
        cts = kernels.add_encrypted(a.ciphertexts, b.ciphertexts, self._n2)
        return a._derive(cts, a.exponents.copy())

    def _lower_to(self, target: np.ndarray) -> EncryptedVector:
        shifts = (self.exponents - target).tolist()
        if not any(shifts):
            return self
        return self._derive(kernels.scale_by_base_power(self.ciphertexts, shifts, self._n2), target.copy())

    def _add_plain(self, other: Plain) -> EncryptedVector:
        """Add plaintext, rounded to this vector's fixed-point precision (no new randomness)."""
        self._no_packing("adding plaintext")
        values = np.broadcast_to(encoding.as_array(other), (len(self),))
        pk = self.public_key
        mantissas: list[int] = []
        exps = self.exponents
        uniform = len(self) == 0 or int(exps.min()) == int(exps.max())
        if uniform:
            e = int(exps[0]) if len(self) else 0
            mantissas = encoding.to_residues(encoding.encode(values, e, pk.max_int, pk.bits), pk.n)
        else:
            for v, e in zip(values.tolist(), exps.tolist(), strict=True):
                m = encoding.encode(np.asarray([v]), e, pk.max_int, pk.bits)
                mantissas.extend(encoding.to_residues(m, pk.n))
        return self._derive(kernels.add_plain(self.ciphertexts, mantissas, pk.n))

    def __mul__(self, other: Plain) -> EncryptedVector:
        if isinstance(other, EncryptedVector):
            raise CryptoError("Paillier cannot multiply two ciphertexts")
        return self.mul(other)

    def __rmul__(self, other: Plain) -> EncryptedVector:
        return self.__mul__(other)

    def mul(
        self,
        other: Plain,
        *,
        precision: float | None = None,
        exponent: int | None = None,
        compute: ComputeBackend | None = None,
    ) -> EncryptedVector:
        """Elementwise product with plaintext (broadcast scalars); one exponentiation per element."""
        self._no_packing("multiplication")
        values = encoding.as_array(other).reshape(-1)
        pk = self.public_key
        e = encoding.choose_exponent(values, precision, exponent)
        mantissas = encoding.encode(values, e, pk.max_int, pk.bits)
        ks = mantissas.tolist() if isinstance(mantissas, np.ndarray) else list(mantissas)
        if len(ks) == 1 and len(self) != 1:
            ks = ks * len(self)
        if len(ks) != len(self):
            raise CryptoError(f"cannot multiply a vector of length {len(self)} by {len(ks)} values")
        cts = parallel.mul(self.ciphertexts, ks, self._n2, compute)
        return self._derive(cts, self.exponents + e)

    def sum(self) -> EncryptedVector:
        """Homomorphic sum of all elements: a vector of length 1."""
        v = self._uniform()
        total = kernels.product(v.ciphertexts, self._n2)
        exps = np.array([v.exponent], dtype=np.int64)
        return EncryptedVector(self.public_key, [total], exps, randomised=False, packing=self.packing)

    def group_sum(self, groups: np.ndarray | Sequence[int], n_groups: int) -> EncryptedVector:
        """Per-group sums (e.g. histogram bins): element i is added to group ``groups[i]``."""
        g = np.asarray(groups)
        if g.shape != (len(self),) or g.dtype.kind not in "iu":
            raise CryptoError(f"group index must be {len(self)} integers, got shape {g.shape} {g.dtype}")
        if len(g) and (int(g.min()) < 0 or int(g.max()) >= n_groups):
            raise CryptoError(f"group index outside [0, {n_groups})")
        v = self._uniform()
        cts = kernels.group_products(v.ciphertexts, g, n_groups, self._n2)
        exps = np.full(n_groups, v.exponent if len(v) else 0, dtype=np.int64)
        return EncryptedVector(self.public_key, cts, exps, randomised=False, packing=self.packing)

    def _uniform(self) -> EncryptedVector:
        if len(self) == 0 or self.packing is not None:
            return self
        lo = int(self.exponents.min())
        return self if lo == int(self.exponents.max()) else self.align(lo)

    def dot(
        self,
        x: Plain,
        *,
        precision: float | None = None,
        exponent: int | None = None,
        compute: ComputeBackend | None = None,
    ) -> EncryptedVector:
        """``sum_i x_i * enc_i`` by multi-exponentiation: a vector of length 1."""
        values = encoding.as_array(x).reshape(-1, 1)
        return self.rmatmul(values, precision=precision, exponent=exponent, compute=compute)

    def rmatmul(
        self,
        X: np.ndarray,
        *,
        precision: float | None = None,
        exponent: int | None = None,
        compute: ComputeBackend | None = None,
    ) -> EncryptedVector:
        """``X.T @ self`` for a plaintext (n, d) matrix: d outputs, each a multi-exponentiation over n terms."""
        self._no_packing("matrix products")
        mat = np.asarray(X)
        if mat.ndim == 1:
            mat = mat.reshape(-1, 1)
        if mat.ndim != 2 or mat.shape[0] != len(self):
            raise CryptoError(f"matrix of shape {np.shape(X)} does not match {len(self)} ciphertexts")
        values = encoding.as_array(mat)
        pk = self.public_key
        e = encoding.choose_exponent(values, precision, exponent)
        mantissas = encoding.encode(values, e, pk.max_int, pk.bits)
        if isinstance(mantissas, np.ndarray):
            scalars = mantissas.reshape(mat.shape)
        else:
            scalars = np.array(mantissas, dtype=object).reshape(mat.shape)
        v = self._uniform()
        out = parallel.rmatmul(v.ciphertexts, scalars, self._n2, compute)
        base_e = v.exponent if len(v) else 0
        return EncryptedVector(pk, out, np.full(len(out), base_e + e, dtype=np.int64), randomised=False)

    def __rmatmul__(self, X: np.ndarray) -> EncryptedVector:
        """``X @ enc`` for X of shape (m, n)."""
        return self.rmatmul(np.asarray(X).T)

    # -- randomisation ------------------------------------------------------------------------------

    def obfuscate(
        self,
        *,
        compute: ComputeBackend | None = None,
        private_key: PrivateKey | None = None,
        pool: ObfuscatorPool | None = None,
    ) -> EncryptedVector:
        """A copy with every ciphertext multiplied by a fresh obfuscator (CRT-fast for the key holder).

        With ``pool``, the obfuscators come from it: made ahead of time, each used once.
        """
        if pool is not None:
            if pool.public_key != self.public_key:
                raise CryptoError("the obfuscator pool belongs to another public key")
            cts = kernels.obfuscate_with(self.ciphertexts, pool.take(len(self)), self._n2)
        elif private_key is not None:
            if private_key.public_key != self.public_key:
                raise CryptoError("private key does not match the vector's public key")
            cts = private_key.obfuscate_ciphertexts(self.ciphertexts, compute=compute)
        else:
            cts = self.public_key.obfuscate_ciphertexts(self.ciphertexts, compute=compute)
        return self._derive(cts, self.exponents.copy(), randomised=True)

    # -- wire format ----------------------------------------------------------------------------------

    def to_proto(self, *, require_randomised: bool = True) -> values_pb2.PaillierVector:
        if require_randomised and not self.randomised:
            raise CryptoError(
                "refusing to serialise a homomorphically computed EncryptedVector that was not "
                "re-randomised: call .obfuscate() first (every ciphertext leaving a party must be fresh)"
            )
        pk = self.public_key
        width = width_of(pk.nsquare)
        exps = self.exponents
        uniform = len(self) == 0 or int(exps.min()) == int(exps.max())
        return values_pb2.PaillierVector(
            key_fingerprint=pk.fingerprint(),
            width=width,
            count=len(self),
            data=pack_ciphertexts(self.ciphertexts, width),
            exponents=[int(exps[0])] if uniform and len(self) else exps.tolist(),
            shape=[len(self)],
            pack_slots=self.packing.slots if self.packing else 0,
            pack_bits=self.packing.bits if self.packing else 0,
        )

    @classmethod
    def from_proto(cls, msg: values_pb2.PaillierVector, public_key: PublicKey) -> EncryptedVector:
        """Parse and validate a peer's vector; raises :class:`CryptoError` naming the defect."""
        if msg.key_fingerprint != public_key.fingerprint():
            raise CryptoError("encrypted vector was made for a different public key (fingerprint mismatch)")
        width = width_of(public_key.nsquare)
        if msg.width != width:
            raise CryptoError(f"ciphertext width {msg.width} does not match the key's {width} bytes")
        count = msg.count
        if len(msg.data) != count * width:
            raise CryptoError(f"vector claims {count} ciphertexts but carries {len(msg.data)} bytes")
        shape = list(msg.shape)
        if shape and int(np.prod(shape)) != count:
            raise CryptoError(f"shape {shape} does not match count {count}")
        exps_in = list(msg.exponents)
        if len(exps_in) == 1:
            exps = np.full(count, exps_in[0], dtype=np.int64)
        elif len(exps_in) == count:
            exps = np.array(exps_in, dtype=np.int64)
        else:
            raise CryptoError(f"{len(exps_in)} exponents for {count} ciphertexts (need 1 or {count})")
        if exps.size and int(np.abs(exps).max()) > encoding.MAX_ABS_EXPONENT:
            raise CryptoError(
                f"fixed-point exponent outside [-{encoding.MAX_ABS_EXPONENT}, {encoding.MAX_ABS_EXPONENT}]"
            )
        packing = None
        if msg.pack_slots or msg.pack_bits:
            if not (msg.pack_slots and msg.pack_bits) or msg.pack_slots * msg.pack_bits > public_key.bits - 2:
                raise CryptoError(
                    f"packing of {msg.pack_slots} slots x {msg.pack_bits} bits does not fit a {public_key.bits}-bit key"
                )
            packing = Packing(msg.pack_slots, msg.pack_bits)
        cts = unpack_ciphertexts(msg.data, width, count)
        _check_units(cts, public_key)
        return cls(public_key, cts, exps, randomised=True, packing=packing)

    # -- phe interop -------------------------------------------------------------------------------------

    def to_phe(self) -> list[Any]:
        """``phe.paillier.EncryptedNumber`` objects with the same ciphertexts and exponents."""
        self._no_packing("conversion to phe")
        from phe import paillier

        phe_pk = self.public_key.to_phe()
        return [
            paillier.EncryptedNumber(phe_pk, int(c), int(e))
            for c, e in zip(self.ciphertexts, self.exponents.tolist(), strict=True)
        ]

    @classmethod
    def from_phe(cls, numbers: Sequence[Any], public_key: PublicKey | None = None) -> EncryptedVector:
        if public_key is None:
            if not numbers:
                raise CryptoError("from_phe needs a public key for an empty list")
            public_key = PublicKey.from_phe(numbers[0].public_key)
        cts: list[mpz] = []
        exps: list[int] = []
        fresh = True
        for i, num in enumerate(numbers):
            if int(num.public_key.n) != public_key.n:
                raise CryptoError(f"phe number {i} belongs to a different public key")
            cts.append(mpz(num.ciphertext(be_secure=False)))
            exps.append(int(num.exponent))
            fresh = fresh and bool(getattr(num, "_EncryptedNumber__is_obfuscated", False))
        return cls(public_key, cts, np.array(exps, dtype=np.int64), randomised=fresh)


def _check_units(cts: list[mpz], public_key: PublicKey) -> None:
    """Every ciphertext in ``(0, n^2)`` and coprime to ``n``; one gcd for the whole batch.

    A non-unit can only come from someone who knows a factor of ``n``; refusing it also keeps
    inversions (negation, negative scalars) from failing later.
    """
    n, n2 = public_key._n_mpz, public_key._nsquare_mpz
    prod = mpz(1)
    for i, c in enumerate(cts):
        if c == 0 or c >= n2:
            raise CryptoError(f"ciphertext {i} is outside (0, n^2)")
        prod = prod * (c % n) % n
    if cts and gmpy2.gcd(prod, n) != 1:
        bad = next(i for i, c in enumerate(cts) if gmpy2.gcd(c, n) != 1)
        raise CryptoError(f"ciphertext {bad} is not a unit modulo n^2")
