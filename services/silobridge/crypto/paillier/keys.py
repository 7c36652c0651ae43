"""Paillier keys, interchangeable with python-paillier (``phe``) keys.

``g = n + 1`` as in ``phe``, so a ``phe`` public key encrypts what :class:`PrivateKey` decrypts and
the other way round. Each key object keeps its own secret obfuscation base ``h = x**n mod n^2``
(``x`` random, never sent anywhere): encryptions use ``h**r`` with ``r`` fresh and uniform in
``[0, 2**(|n| + 128))``; see ``docs/crypto.md`` for the security assumption.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import TYPE_CHECKING, Any

import gmpy2
import numpy as np
from gmpy2 import mpz

from silobridge.compute.base import ComputeBackend
from silobridge.crypto.paillier import encoding, kernels, parallel
from silobridge.errors import CryptoError

if TYPE_CHECKING:
    from silobridge.crypto.paillier.pool import ObfuscatorPool
    from silobridge.crypto.paillier.vector import EncryptedVector
    from silobridge.federation.v1 import values_pb2

MIN_KEY_BITS = 1024
# Larger moduli are refused before any arithmetic: checking a peer's 1 MB modulus costs minutes.
MAX_KEY_BITS = 8192
DEFAULT_KEY_BITS = 2048
STATISTICAL_SLACK_BITS = 128
MIN_OBFUSCATION_BITS = 256
_TEST_MIN_KEY_BITS = 256


class PublicKey:
    """A Paillier public key ``n``; encrypts batches with fixed-base obfuscators."""

    def __init__(self, n: int, *, obfuscation_bits: int | None = None, window: int = 8) -> None:
        n = int(n)
        if n.bit_length() > MAX_KEY_BITS:
            raise CryptoError(_too_large(n.bit_length()))
        if n <= 3 or n % 2 == 0:
            raise CryptoError("a Paillier modulus must be an odd integer > 3")
        self.n = n
        self.nsquare = n * n
        self.bits = n.bit_length()
        self.max_int = n // 3 - 1
        self.window = window
        bits = self.bits + STATISTICAL_SLACK_BITS if obfuscation_bits is None else obfuscation_bits
        if bits < MIN_OBFUSCATION_BITS:
            raise CryptoError(
                f"obfuscation exponents shorter than {MIN_OBFUSCATION_BITS} bits are not allowed"
            )
        self.obfuscation_bits = bits
        self._h: int | None = None
        self._n_mpz = mpz(n)
        self._nsquare_mpz = mpz(self.nsquare)

    # -- identity ---------------------------------------------------------------------------

    def fingerprint(self) -> bytes:
        """SHA-256 of ``n`` (big-endian, minimal length): how a receiver checks the key of a vector."""
        return hashlib.sha256(self.n.to_bytes((self.bits + 7) // 8, "big")).digest()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicKey) and other.n == self.n

    def __hash__(self) -> int:
        return hash(self.n)

    def __repr__(self) -> str:
        return f"PublicKey(bits={self.bits}, fingerprint={self.fingerprint()[:6].hex()})"

    # -- interop ----------------------------------------------------------------------------

    @classmethod
    def from_phe(cls, phe_public_key: Any) -> PublicKey:
        return cls(int(phe_public_key.n))

    def to_phe(self) -> Any:
        from phe import paillier

        return paillier.PaillierPublicKey(self.n)

    def to_proto(self) -> values_pb2.PaillierPublicKey:
        from silobridge.federation.v1 import values_pb2

        return values_pb2.PaillierPublicKey(n=self.n.to_bytes((self.bits + 7) // 8, "big"))

    @classmethod
    def from_proto(cls, msg: values_pb2.PaillierPublicKey, *, min_bits: int = MIN_KEY_BITS) -> PublicKey:
        """A peer's key: rejects keys above ``MAX_KEY_BITS`` (before any arithmetic), below
        ``min_bits``, even moduli, primes and perfect squares."""
        data = bytes(msg.n).lstrip(b"\x00")
        if len(data) * 8 > MAX_KEY_BITS:
            raise CryptoError(_too_large(len(data) * 8))
        n = int.from_bytes(data, "big")
        if n.bit_length() < min_bits:
            raise CryptoError(
                f"Paillier public key of {n.bit_length()} bits is below the {min_bits}-bit minimum"
            )
        if n % 2 == 0:
            raise CryptoError("Paillier public key modulus is even")
        if gmpy2.is_square(n) or gmpy2.is_prime(n):
            raise CryptoError("Paillier public key modulus is not a product of two distinct primes")
        return cls(n)

    # -- obfuscation base ---------------------------------------------------------------------

    @property
    def obfuscation_base(self) -> int:
        """``h = x**n mod n^2`` for a random unit ``x`` chosen once per key object (kept in-party)."""
        if self._h is None:
            while True:
                x = secrets.randbelow(self.n - 2) + 2
                if gmpy2.gcd(x, self.n) == 1:
                    break
            self._h = int(gmpy2.powmod(x, self.n, self.nsquare))
        return self._h

    def warm_up(self) -> None:
        """Build this process's fixed-base table now rather than on the first encryption."""
        kernels.public_table(self.n, self.obfuscation_base, self.obfuscation_bits, self.window)

    # -- encryption -----------------------------------------------------------------------------

    def encrypt_vector(
        self,
        x: np.ndarray | Any,
        *,
        precision: float | None = None,
        exponent: int | None = None,
        compute: ComputeBackend | None = None,
        pool: ObfuscatorPool | None = None,
    ) -> EncryptedVector:
        """Encrypt every element with fresh randomness (fixed-point, one shared exponent).

        With ``pool``, the obfuscators come from it (made ahead of time, each used once).
        """
        from silobridge.crypto.paillier.vector import EncryptedVector

        values = encoding.as_array(x).reshape(-1)
        e = encoding.choose_exponent(values, precision, exponent)
        mantissas = encoding.encode(values, e, self.max_int, self.bits)
        residues = encoding.to_residues(mantissas, self.n)
        if pool is not None:
            if pool.public_key != self:
                raise CryptoError("the obfuscator pool belongs to another public key")
            cts = kernels.encrypt_with(residues, pool.take(len(residues)), self.n)
        else:
            cts = self.encrypt_residues(residues, compute=compute)
        return EncryptedVector(self, cts, np.full(len(cts), e, dtype=np.int64), randomised=True)

    def encrypt_residues(self, residues: list[int], *, compute: ComputeBackend | None = None) -> list[mpz]:
        """Raw encryption of plaintexts already in ``[0, n)``."""
        return parallel.encrypt_public(
            residues, self.n, self.obfuscation_base, self.obfuscation_bits, self.window, compute
        )

    def obfuscate_ciphertexts(self, cts: list[mpz], *, compute: ComputeBackend | None = None) -> list[mpz]:
        return parallel.obfuscate_public(
            cts, self.n, self.obfuscation_base, self.obfuscation_bits, self.window, compute
        )


class PrivateKey:
    """The key holder's half: CRT decryption and CRT encryption (``p < q`` as in ``phe``)."""

    def __init__(self, public_key: PublicKey, p: int, q: int) -> None:
        p, q = int(p), int(q)
        if p * q != public_key.n:
            raise CryptoError("the given primes do not match the public key")
        if p == q:
            raise CryptoError("p and q must differ")
        self.public_key = public_key
        self.p, self.q = (p, q) if p < q else (q, p)

    @classmethod
    def from_phe(cls, phe_private_key: Any, public_key: PublicKey | None = None) -> PrivateKey:
        pk = public_key or PublicKey.from_phe(phe_private_key.public_key)
        return cls(pk, int(phe_private_key.p), int(phe_private_key.q))

    def to_phe(self) -> Any:
        from phe import paillier

        return paillier.PaillierPrivateKey(self.public_key.to_phe(), self.p, self.q)

    def __repr__(self) -> str:
        return (
            f"PrivateKey(bits={self.public_key.bits}, fingerprint={self.public_key.fingerprint()[:6].hex()})"
        )

    def warm_up(self) -> None:
        kernels.crt_context(self.p, self.q, self.public_key.obfuscation_base, self.public_key.window)
        kernels.decrypt_context(self.p, self.q)

    # -- encryption (key holder) -----------------------------------------------------------------

    def encrypt_vector(
        self,
        x: np.ndarray | Any,
        *,
        precision: float | None = None,
        exponent: int | None = None,
        compute: ComputeBackend | None = None,
    ) -> EncryptedVector:
        """Like :meth:`PublicKey.encrypt_vector`, with half-size CRT exponentiations."""
        from silobridge.crypto.paillier.vector import EncryptedVector

        pk = self.public_key
        values = encoding.as_array(x).reshape(-1)
        e = encoding.choose_exponent(values, precision, exponent)
        mantissas = encoding.encode(values, e, pk.max_int, pk.bits)
        cts = self.encrypt_residues(encoding.to_residues(mantissas, pk.n), compute=compute)
        return EncryptedVector(pk, cts, np.full(len(cts), e, dtype=np.int64), randomised=True)

    def encrypt_residues(self, residues: list[int], *, compute: ComputeBackend | None = None) -> list[mpz]:
        pk = self.public_key
        return parallel.encrypt_crt(residues, self.p, self.q, pk.obfuscation_base, pk.window, compute)

    def obfuscate_ciphertexts(self, cts: list[mpz], *, compute: ComputeBackend | None = None) -> list[mpz]:
        pk = self.public_key
        return parallel.obfuscate_crt(cts, self.p, self.q, pk.obfuscation_base, pk.window, compute)

    # -- decryption ----------------------------------------------------------------------------

    def _check(self, ev: EncryptedVector) -> None:
        if ev.public_key != self.public_key:
            raise CryptoError(
                "encrypted vector belongs to a different public key "
                f"({ev.public_key.fingerprint()[:6].hex()} != {self.public_key.fingerprint()[:6].hex()})"
            )

    def decrypt_raw(self, ev: EncryptedVector, *, compute: ComputeBackend | None = None) -> list[int]:
        """Plaintext residues in ``[0, n)`` (packed vectors are decoded from these)."""
        self._check(ev)
        return parallel.decrypt(ev.ciphertexts, self.p, self.q, compute)

    def decrypt_int(self, ev: EncryptedVector, *, compute: ComputeBackend | None = None) -> list[int]:
        """Exact signed mantissas (value = mantissa * 16**exponent); raises on overflow."""
        if ev.packing is not None:
            raise CryptoError("a packed vector must be decrypted with its PackedEncoder")
        pk = self.public_key
        residues = self.decrypt_raw(ev, compute=compute)
        return [encoding.signed(r, pk.n, pk.max_int, i, pk.bits) for i, r in enumerate(residues)]

    def decrypt_vector(self, ev: EncryptedVector, *, compute: ComputeBackend | None = None) -> np.ndarray:
        """float64 plaintexts; raises :class:`CryptoError` on overflow or a foreign key."""
        return encoding.decode(self.decrypt_int(ev, compute=compute), ev.exponents)


def generate_keypair(
    bits: int = DEFAULT_KEY_BITS, *, allow_insecure_test_size: bool = False
) -> tuple[PublicKey, PrivateKey]:
    """A fresh key pair from ``phe``'s generator (``n`` of exactly ``bits`` bits).

    Keys below 1024 bits exist only to make tests fast and need ``allow_insecure_test_size``.
    """
    from phe import paillier

    floor = _TEST_MIN_KEY_BITS if allow_insecure_test_size else MIN_KEY_BITS
    if bits > MAX_KEY_BITS:
        raise CryptoError(_too_large(bits))
    if bits < floor:
        raise CryptoError(f"Paillier keys must have at least {MIN_KEY_BITS} bits, got {bits}")
    phe_pk, phe_sk = paillier.generate_paillier_keypair(n_length=bits)
    pk = PublicKey(int(phe_pk.n))
    return pk, PrivateKey(pk, int(phe_sk.p), int(phe_sk.q))


def _too_large(bits: int) -> str:
    return f"Paillier public key of about {bits} bits exceeds the {MAX_KEY_BITS}-bit maximum"
