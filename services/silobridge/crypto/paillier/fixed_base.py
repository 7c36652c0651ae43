"""Fixed-base exponentiation with precomputed window tables.

For a base ``g`` that never changes (the obfuscation base ``h`` of a key), ``g**e mod M`` costs one
modular multiplication per non-zero ``w``-bit digit of ``e`` instead of ``|e|`` squarings plus
``|e|/w`` multiplications: the table holds ``g**(d * 2**(w*i))`` for every digit value ``d`` and
position ``i``. With ``w = 8`` the digits of a random exponent are simply random bytes, so an
obfuscator costs ``|e|/8`` multiplications and no big-integer conversion at all.

Memory: ``ceil(|e|/w) * (2**w - 1)`` residues, about 35 MB for a 2048-bit key's ``n**2`` at ``w = 8``.
``w = 12`` needs a third fewer multiplications per exponentiation for about 10x the memory (about
110 MB for a 1024-bit key's ``n**2``, 380 MB at 2048 bits) and build time: worth it only for a job
that makes hundreds of thousands of obfuscators under one key.
"""

from __future__ import annotations

import gmpy2
from gmpy2 import mpz

from silobridge.crypto.paillier import native
from silobridge.errors import CryptoError

ONE = mpz(1)
SUPPORTED_WINDOWS = (4, 8, 12)


class FixedBaseTable:
    """``base**e mod modulus`` for exponents of at most ``exp_bits`` bits, from a precomputed table."""

    __slots__ = ("base", "exp_bits", "modulus", "n_bytes", "n_rows", "native", "rows", "window")

    def __init__(self, base: int, modulus: int, exp_bits: int, window: int = 8) -> None:
        if window not in SUPPORTED_WINDOWS:
            raise CryptoError(f"fixed-base window must be one of {SUPPORTED_WINDOWS}, got {window}")
        if exp_bits <= 0:
            raise CryptoError(f"fixed-base exponent length must be positive, got {exp_bits}")
        self.modulus = mpz(modulus)
        self.base = mpz(base) % self.modulus
        self.window = window
        self.exp_bits = exp_bits
        self.n_bytes = (exp_bits + 7) // 8
        n_rows = -(-self.n_bytes * 8 // window)  # every bit of an n_bytes-long exponent has a digit
        self.n_rows = n_rows
        self.native: tuple[native.Modulus, native.Table] | None = None
        self.rows: list[list[mpz]] = []
        if native.available() and self.modulus % 2:
            mod = native.Modulus(self.modulus)  # the same table in Montgomery form, built natively
            self.native = (mod, native.fixed_base_table(mod, self.base, window, n_rows))
            return
        size = 1 << window
        rows: list[list[mpz]] = []
        g = self.base
        m = self.modulus
        for _ in range(n_rows):
            row = [ONE, g]
            cur = g
            for _d in range(2, size):
                cur = cur * g % m
                row.append(cur)
            rows.append(row)
            g = cur * g % m  # g**(2**window): the base of the next digit position
        self.rows = rows

    def pow_bytes(self, digits: bytes | memoryview) -> mpz:
        """``base**e mod modulus`` where ``e = int.from_bytes(digits, "little")``, at most ``n_bytes`` long."""
        if self.native is not None:
            return self.pow_many(bytes(digits).ljust(self.n_bytes, b"\0")[: self.n_bytes])[0]
        m = self.modulus
        acc = ONE
        if self.window == 8:
            for row, d in zip(self.rows, digits, strict=False):
                if d:
                    acc = acc * row[d] % m
            return acc
        rows = self.rows
        if self.window == 12:
            e = int.from_bytes(digits, "little")
            i = 0
            while e:
                d = e & 0xFFF
                if d:
                    acc = acc * rows[i][d] % m
                e >>= 12
                i += 1
            return acc
        for i, byte in enumerate(digits):
            lo = byte & 0x0F
            hi = byte >> 4
            if lo:
                acc = acc * rows[2 * i][lo] % m
            if hi:
                acc = acc * rows[2 * i + 1][hi] % m
        return acc

    def pow_many(self, digits: bytes) -> list[mpz]:
        """``pow_bytes`` of each ``n_bytes``-long slice of ``digits`` (natively in one call when built)."""
        nb = self.n_bytes
        if len(digits) % nb:
            raise CryptoError(f"{len(digits)} exponent bytes are not a multiple of {nb}")
        if self.native is not None:
            mod, table = self.native
            return native.fixed_base_pow(mod, table, digits, nb)
        view = memoryview(digits)
        return [self.pow_bytes(view[i * nb : (i + 1) * nb]) for i in range(len(digits) // nb)]

    def pow(self, exponent: int) -> mpz:
        """``base**exponent mod modulus`` for ``0 <= exponent < 2**exp_bits``."""
        if exponent < 0 or exponent.bit_length() > self.exp_bits:
            raise CryptoError(f"exponent of {exponent.bit_length()} bits exceeds the table's {self.exp_bits}")
        return self.pow_bytes(int(exponent).to_bytes(self.n_bytes, "little"))

    def check(self) -> bool:
        """Self-test against GMP's generic exponentiation (used once per table in tests)."""
        e = (1 << self.exp_bits) - 12345
        return bool(self.pow(e) == gmpy2.powmod(self.base, e, self.modulus))
