"""Batch Paillier arithmetic on lists of residues: the loops every operation ends up in.

Everything here takes plain integers (key material as ints, ciphertexts as gmpy2 ``mpz``) so the
same functions run in the calling process or in a compute-backend worker (see ``parallel.py``).
Fixed-base tables are cached per process, keyed by the key material, because building one costs
about as much as 30 ordinary encryptions and a worker process serves many chunks.

Encryption of a residue ``m`` with obfuscator ``y = h**r`` (``h`` an n-th residue):
``c = (1 + m*n) * y mod n^2 = y + n * (m*y mod n)``, which replaces the 4096-bit product by a
2048-bit one for a 2048-bit key.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import gmpy2
import numpy as np
from gmpy2 import mpz

from silobridge.crypto.paillier import native
from silobridge.crypto.paillier.fixed_base import FixedBaseTable
from silobridge.crypto.paillier.multiexp import batch_invert, multi_column_msm, signed_msm
from silobridge.errors import CryptoError

K = TypeVar("K")
V = TypeVar("V")

_STATISTICAL_SLACK_BITS = 128
_CACHE_SIZE = 4


class _LRU(OrderedDict[K, V]):
    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()

    def get_or_build(self, key: K, build: Callable[[], V]) -> V:
        with self.lock:
            if key in self:
                self.move_to_end(key)
                return self[key]
        value = build()  # outside the lock: building takes a while, a duplicate build is harmless
        with self.lock:
            self[key] = value
            while len(self) > _CACHE_SIZE:
                self.popitem(last=False)
        return value


_PUBLIC_TABLES: _LRU[tuple[int, int, int, int], FixedBaseTable] = _LRU()
_CRT_CONTEXTS: _LRU[tuple[int, int, int, int], CrtContext] = _LRU()
_DECRYPT_CONTEXTS: _LRU[tuple[int, int], DecryptContext] = _LRU()


def release_gil() -> gmpy2.context:
    """A gmpy2 context that lets big-number arithmetic run outside the GIL (thread backends)."""
    return gmpy2.context(allow_release_gil=True)


# --- public-key encryption -------------------------------------------------------------------


def public_table(n: int, h: int, exp_bits: int, window: int) -> FixedBaseTable:
    n = int(n)
    key = (n, int(h), exp_bits, window)
    return _PUBLIC_TABLES.get_or_build(key, lambda: FixedBaseTable(h, n * n, exp_bits, window))


def public_obfuscators(count: int, table: FixedBaseTable) -> list[mpz]:
    """``count`` fresh ``h**r`` with ``r`` uniform in ``[0, 2**exp_bits)`` from the OS CSPRNG."""
    return table.pow_many(os.urandom(table.n_bytes * count))


def encrypt_with(residues: Sequence[int], obfuscators: Sequence[mpz], n: int) -> list[mpz]:
    """``(1 + m*n) * y mod n^2`` for each residue and its own (fresh, never reused) obfuscator."""
    if len(obfuscators) != len(residues):
        raise CryptoError(f"{len(obfuscators)} obfuscators for {len(residues)} plaintexts")
    nn = mpz(n)
    n2 = nn * nn
    return [(y + nn * (m * y % nn)) % n2 for m, y in zip(residues, obfuscators, strict=True)]


def obfuscate_with(cts: Sequence[mpz], obfuscators: Sequence[mpz], n2: mpz) -> list[mpz]:
    """``c * y mod n^2``: re-randomisation by a ready obfuscator (one multiplication each)."""
    if len(obfuscators) != len(cts):
        raise CryptoError(f"{len(obfuscators)} obfuscators for {len(cts)} ciphertexts")
    if native.available() and len(cts) >= NATIVE_MIN_ITEMS:
        return native.mulmod(_native_modulus(n2), cts, obfuscators)
    return [c * y % n2 for c, y in zip(cts, obfuscators, strict=True)]


def encrypt_public(residues: Sequence[int], n: int, h: int, exp_bits: int, window: int) -> list[mpz]:
    with release_gil():
        table = public_table(n, h, exp_bits, window)
        return encrypt_with(residues, public_obfuscators(len(residues), table), n)


def obfuscate_public(cts: Sequence[mpz], n: int, h: int, exp_bits: int, window: int) -> list[mpz]:
    with release_gil():
        table = public_table(n, h, exp_bits, window)
        return obfuscate_with(cts, public_obfuscators(len(cts), table), table.modulus)


def make_public_obfuscators(count: int, n: int, h: int, exp_bits: int, window: int) -> list[mpz]:
    with release_gil():
        return public_obfuscators(count, public_table(n, h, exp_bits, window))


# --- key-holder encryption with CRT ----------------------------------------------------------


@dataclass(frozen=True)
class CrtContext:
    """Fixed-base tables for ``h mod p^2`` and ``h mod q^2`` with exponents reduced modulo p-1, q-1.

    ``h mod p^2`` is an n-th residue, so its order divides ``p - 1``: a uniform exponent modulo
    ``p - 1`` gives a uniform element of ``<h mod p^2>`` at half the exponent length.
    """

    n: mpz
    nsquare: mpz
    p: mpz
    q: mpz
    psquare: mpz
    qsquare: mpz
    q2_inv_p2: mpz
    table_p: FixedBaseTable
    table_q: FixedBaseTable
    draw_bytes_p: int
    draw_bytes_q: int


def crt_context(p: int, q: int, h: int, window: int) -> CrtContext:
    def build() -> CrtContext:
        pp, qq = mpz(p), mpz(q)
        p2, q2 = pp * pp, qq * qq
        return CrtContext(
            n=pp * qq,
            nsquare=p2 * q2,
            p=pp,
            q=qq,
            psquare=p2,
            qsquare=q2,
            q2_inv_p2=gmpy2.invert(q2, p2),
            table_p=FixedBaseTable(mpz(h) % p2, p2, (pp - 1).bit_length(), window),
            table_q=FixedBaseTable(mpz(h) % q2, q2, (qq - 1).bit_length(), window),
            draw_bytes_p=((pp - 1).bit_length() + _STATISTICAL_SLACK_BITS + 7) // 8,
            draw_bytes_q=((qq - 1).bit_length() + _STATISTICAL_SLACK_BITS + 7) // 8,
        )

    return _CRT_CONTEXTS.get_or_build((int(p), int(q), int(h), window), build)


def crt_obfuscators(count: int, ctx: CrtContext) -> list[mpz]:
    """``count`` fresh obfuscators: independent uniform exponents modulo p-1 and q-1, joined by CRT."""
    bp, bq = ctx.draw_bytes_p, ctx.draw_bytes_q
    rnd = os.urandom((bp + bq) * count)
    pm1, qm1 = int(ctx.p - 1), int(ctx.q - 1)
    np_bytes, nq_bytes = ctx.table_p.n_bytes, ctx.table_q.n_bytes
    pow_p, pow_q = ctx.table_p.pow_bytes, ctx.table_q.pow_bytes
    p2, q2, q2_inv_p2 = ctx.psquare, ctx.qsquare, ctx.q2_inv_p2
    out = []
    off = 0
    for _ in range(count):
        rp = int.from_bytes(rnd[off : off + bp], "little") % pm1
        off += bp
        rq = int.from_bytes(rnd[off : off + bq], "little") % qm1
        off += bq
        yp = pow_p(rp.to_bytes(np_bytes, "little"))
        yq = pow_q(rq.to_bytes(nq_bytes, "little"))
        out.append(yq + q2 * ((yp - yq) * q2_inv_p2 % p2))
    return out


def encrypt_crt(residues: Sequence[int], p: int, q: int, h: int, window: int) -> list[mpz]:
    with release_gil():
        ctx = crt_context(p, q, h, window)
        nn, n2 = ctx.n, ctx.nsquare
        return [
            (y + nn * (m * y % nn)) % n2
            for m, y in zip(residues, crt_obfuscators(len(residues), ctx), strict=True)
        ]


def obfuscate_crt(cts: Sequence[mpz], p: int, q: int, h: int, window: int) -> list[mpz]:
    with release_gil():
        ctx = crt_context(p, q, h, window)
        n2 = ctx.nsquare
        return [c * y % n2 for c, y in zip(cts, crt_obfuscators(len(cts), ctx), strict=True)]


# --- decryption ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DecryptContext:
    p: mpz
    q: mpz
    psquare: mpz
    qsquare: mpz
    hp: mpz
    hq: mpz
    p_inverse: mpz
    n: mpz
    half_p: mpz
    small_bound: mpz


def decrypt_context(p: int, q: int) -> DecryptContext:
    def build() -> DecryptContext:
        pp, qq = (mpz(p), mpz(q)) if p < q else (mpz(q), mpz(p))
        n = pp * qq
        p2, q2 = pp * pp, qq * qq
        g = n + 1
        hp = gmpy2.invert((gmpy2.powmod(g, pp - 1, p2) - 1) // pp, pp)
        hq = gmpy2.invert((gmpy2.powmod(g, qq - 1, q2) - 1) // qq, qq)
        small_bits = max(0, pp.bit_length() - SMALL_PLAINTEXT_SLACK_BITS)
        return DecryptContext(pp, qq, p2, q2, hp, hq, gmpy2.invert(pp, qq), n, pp // 2, mpz(1) << small_bits)

    return _DECRYPT_CONTEXTS.get_or_build((int(p), int(q)), build)


# A plaintext whose residue modulo p is within 2**(|p| - 130) of 0 is taken to be that small signed
# value; a larger plaintext lands there with probability <= 2**-128 (it would have to be within that
# distance of a multiple of p, which nobody who cannot factor n can aim for).
SMALL_PLAINTEXT_SLACK_BITS = 130


def decrypt_crt(cts: Sequence[mpz], p: int, q: int) -> list[int]:
    """Plaintext residues in ``[0, n)``.

    The half modulo ``p^2`` comes first. Fixed-point FL values are tiny next to ``p`` (|m| < 2**894
    for a 2048-bit key): for those, ``m mod p`` read as a signed number *is* ``m``, and the half
    modulo ``q^2`` is skipped (the Okamoto-Uchiyama observation). Anything larger gets the full
    CRT decryption of ``phe``, so no plaintext decrypts slower than with ``phe``.
    """
    ctx = decrypt_context(p, q)
    if not cts:
        return []
    pp, hp, n, half, bound = ctx.p, ctx.hp, ctx.n, ctx.half_p, ctx.small_bound
    xs_p = gmpy2.powmod_base_list(list(cts), pp - 1, ctx.psquare)  # releases the GIL
    out: list[int] = []
    large: list[int] = []
    m_p: list[mpz] = []
    for i, xp in enumerate(xs_p):
        mp = (xp - 1) // pp * hp % pp
        m_p.append(mp)
        signed = mp if mp <= half else mp - pp
        if -bound < signed < bound:
            out.append(int(signed if signed >= 0 else signed + n))
        else:
            out.append(0)
            large.append(i)
    if large:
        qq, hq, pinv = ctx.q, ctx.hq, ctx.p_inverse
        xs_q = gmpy2.powmod_base_list([cts[i] for i in large], qq - 1, ctx.qsquare)
        for i, xq in zip(large, xs_q, strict=True):
            mp = m_p[i]
            mq = (xq - 1) // qq * hq % qq
            out[i] = int(mp + (mq - mp) * pinv % qq * pp)
    return out


# --- homomorphic operations -----------------------------------------------------------------


def add_plain(cts: Sequence[mpz], residues: Sequence[int], n: int) -> list[mpz]:
    """``c * (1 + m*n) = c + n*(m*c mod n) mod n^2``: add plaintext residues without a new obfuscator."""
    nn = mpz(n)
    n2 = nn * nn
    return [(c + nn * (m * c % nn)) % n2 for c, m in zip(cts, residues, strict=True)]


def add_encrypted(a: Sequence[mpz], b: Sequence[mpz], n2: mpz) -> list[mpz]:
    return [x * y % n2 for x, y in zip(a, b, strict=True)]


def mul_scalars(cts: Sequence[mpz], scalars: Sequence[int], n2: mpz) -> list[mpz]:
    """``c_i ** k_i`` for signed ``k_i``; negative results share one batch inversion."""
    with release_gil():
        out: list[mpz] = []
        neg_idx: list[int] = []
        powmod = gmpy2.powmod
        for i, (c, k) in enumerate(zip(cts, scalars, strict=True)):
            if k < 0:
                out.append(powmod(c, -k, n2))
                neg_idx.append(i)
            else:
                out.append(powmod(c, k, n2))
        if neg_idx:
            inverted = batch_invert([out[i] for i in neg_idx], n2)
            for i, v in zip(neg_idx, inverted, strict=True):
                out[i] = v
        return out


def scale_by_base_power(cts: Sequence[mpz], shifts: Sequence[int], n2: mpz) -> list[mpz]:
    """``c_i ** (16**shift_i)``: lowers exponents for alignment (``shift`` base-16 digits)."""
    return [gmpy2.powmod(c, 1 << (4 * s), n2) if s else c for c, s in zip(cts, shifts, strict=True)]


def dot(cts: Sequence[mpz], scalars: np.ndarray | Sequence[int], n2: mpz) -> mpz:
    if _native_scalars(scalars) and len(cts) == len(scalars):
        return native.msm(_native_modulus(n2), cts, np.asarray(scalars).reshape(-1, 1))[0]
    with release_gil():
        return signed_msm(cts, scalars, n2)


def rmatmul(cts: Sequence[mpz], scalars: np.ndarray, n2: mpz) -> list[mpz]:
    if _native_scalars(scalars) and scalars.ndim == 2 and scalars.shape[0] == len(cts):
        return native.msm(_native_modulus(n2), cts, scalars)
    with release_gil():
        return multi_column_msm(cts, scalars, n2)


# Below this many items the native kernel's conversions cost more than they save.
NATIVE_MIN_ITEMS = 8
_NATIVE_SAFE_BITS = 62
_MODULI: _LRU[int, native.Modulus] = _LRU()


def _native_modulus(m: mpz) -> native.Modulus:
    return _MODULI.get_or_build(int(m), lambda: native.Modulus(m))


def _native_scalars(scalars: np.ndarray | Sequence[int]) -> bool:
    """Whether a multi-exponentiation goes to the native kernel: int64-sized integer scalars."""
    if not native.available() or not isinstance(scalars, np.ndarray) or scalars.dtype.kind not in "iu":
        return False
    if scalars.size == 0:
        return False
    top = max(abs(int(scalars.min())), abs(int(scalars.max())))
    return top.bit_length() <= _NATIVE_SAFE_BITS


def product(cts: Sequence[mpz], n2: mpz) -> mpz:
    if not cts:
        return mpz(1)
    acc = cts[0]
    for c in cts[1:]:
        acc = acc * c % n2
    return acc


def group_products(cts: Sequence[mpz], groups: np.ndarray, n_groups: int, n2: mpz) -> list[mpz]:
    """Per-group products (homomorphic sums), e.g. histogram bins; empty groups are ``1`` (= E(0))."""
    if len(groups) != len(cts):
        raise CryptoError(f"group index has {len(groups)} entries for {len(cts)} ciphertexts")
    out: list[mpz | None] = [None] * n_groups
    for c, g in zip(cts, groups.tolist(), strict=True):
        cur = out[g]
        out[g] = c if cur is None else cur * c % n2
    one = mpz(1)
    return [one if v is None else v for v in out]
