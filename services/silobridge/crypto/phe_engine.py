"""The straightforward python-paillier (``phe``) engine: the baseline the fast engine is measured against.

Same interface as the subset of :mod:`silobridge.crypto.paillier` that the ``hetero_lr`` component
calls, implemented the way a ``phe`` user writes it: one ``EncryptedNumber`` per element,
``pk.encrypt(x)`` per value (``phe`` picks each value's exponent), ``a + b``, ``a * k`` and Python
sums for dot and matrix products, ``EncryptedNumber.obfuscate()`` per ciphertext, ``phe``'s own
(CRT) decryption. No batching, no fixed-base tables, no multi-exponentiation, no compute backend
(``compute`` arguments are accepted and ignored: single-threaded, as ``phe`` is).

Keys and ciphertexts are the fast engine's (``g = n + 1``, base-16 fixed point), so vectors cross
the wire in the same ``PaillierVector`` protobuf (one exponent per element where they differ) and
convert to and from :class:`~silobridge.crypto.EncryptedVector` without re-encryption.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from gmpy2 import mpz

from silobridge.compute.base import ComputeBackend
from silobridge.crypto.paillier import encoding
from silobridge.crypto.paillier.keys import MIN_KEY_BITS, PrivateKey, PublicKey, generate_keypair
from silobridge.crypto.paillier.vector import EncryptedVector
from silobridge.crypto.paillier.wire import pack_ciphertexts, width_of
from silobridge.errors import CryptoError

if TYPE_CHECKING:
    from silobridge.federation.v1 import values_pb2

Plain = np.ndarray | float | int | Sequence[float] | Sequence[int]


def _plain_list(values: Plain, size: int) -> list[Any]:
    """Python floats/ints (what ``phe`` encodes), broadcast to ``size`` elements."""
    plain: list[Any] = encoding.as_array(values).reshape(-1).tolist()
    if len(plain) == 1 and size != 1:
        return plain * size
    if len(plain) != size:
        raise CryptoError(f"cannot combine an encrypted vector of length {size} with {len(plain)} values")
    return plain


class PhePublicKey:
    """A ``phe.paillier.PaillierPublicKey`` behind the fast engine's key interface."""

    def __init__(self, n: int) -> None:
        from phe import paillier

        self.phe = paillier.PaillierPublicKey(int(n))
        self.n = int(n)
        self.bits = self.n.bit_length()
        self.max_int = int(self.phe.max_int)
        self._fast: PublicKey | None = None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PhePublicKey) and other.n == self.n

    def __hash__(self) -> int:
        return hash(self.n)

    def __repr__(self) -> str:
        return f"PhePublicKey(bits={self.bits}, fingerprint={self.fingerprint()[:6].hex()})"

    def fingerprint(self) -> bytes:
        """The same SHA-256 of ``n`` as :meth:`PublicKey.fingerprint` (vectors name their key by it)."""
        return self.to_fast().fingerprint()

    # -- interop ----------------------------------------------------------------------------

    def to_fast(self) -> PublicKey:
        if self._fast is None:
            self._fast = PublicKey(self.n)
        return self._fast

    @classmethod
    def from_fast(cls, public_key: PublicKey) -> PhePublicKey:
        out = cls(public_key.n)
        out._fast = public_key
        return out

    def to_proto(self) -> values_pb2.PaillierPublicKey:
        return self.to_fast().to_proto()

    @classmethod
    def from_proto(cls, msg: values_pb2.PaillierPublicKey, *, min_bits: int = MIN_KEY_BITS) -> PhePublicKey:
        """A peer's key, with the fast engine's checks (size floor, even modulus, squares, primes)."""
        return cls.from_fast(PublicKey.from_proto(msg, min_bits=min_bits))

    # -- encryption -------------------------------------------------------------------------

    def encrypt_vector(
        self,
        x: Plain,
        *,
        precision: float | None = None,
        exponent: int | None = None,
        compute: ComputeBackend | None = None,
    ) -> PheEncryptedVector:
        """``pk.encrypt(v)`` per element; each is obfuscated by ``phe`` (a full ``r**n`` each)."""
        from phe import paillier

        del compute  # phe is single-threaded
        values = encoding.as_array(x).reshape(-1)
        if exponent is None:
            numbers = [self.phe.encrypt(v, precision=precision) for v in _plain_list(values, len(values))]
        else:
            if precision is not None:
                raise CryptoError("give either precision or exponent, not both")
            mantissas = encoding.to_residues(
                encoding.encode(values, exponent, self.max_int, self.bits), self.n
            )
            numbers = [self.phe.encrypt(paillier.EncodedNumber(self.phe, m, exponent)) for m in mantissas]
        return PheEncryptedVector(self, numbers, randomised=True)


class PhePrivateKey:
    """A ``phe.paillier.PaillierPrivateKey``: ``phe``'s CRT decryption, one number at a time."""

    def __init__(self, public_key: PhePublicKey, p: int, q: int) -> None:
        from phe import paillier

        if int(p) * int(q) != public_key.n:
            raise CryptoError("the given primes do not match the public key")
        self.public_key = public_key
        self.phe = paillier.PaillierPrivateKey(public_key.phe, int(p), int(q))

    def __repr__(self) -> str:
        return f"PhePrivateKey(bits={self.public_key.bits}, fingerprint={self.public_key.fingerprint()[:6].hex()})"

    @classmethod
    def from_fast(cls, private_key: PrivateKey) -> PhePrivateKey:
        return cls(PhePublicKey.from_fast(private_key.public_key), private_key.p, private_key.q)

    def to_fast(self) -> PrivateKey:
        return PrivateKey(self.public_key.to_fast(), int(self.phe.p), int(self.phe.q))

    def decrypt_vector(self, ev: PheEncryptedVector, *, compute: ComputeBackend | None = None) -> np.ndarray:
        """float64 plaintexts via ``sk.decrypt`` per element; overflow and foreign keys raise CryptoError."""
        del compute
        if ev.public_key != self.public_key:
            raise CryptoError("encrypted vector belongs to a different public key")
        out = np.empty(len(ev), dtype=np.float64)
        for i, number in enumerate(ev.numbers):
            try:
                out[i] = float(self.phe.decrypt(number))
            except OverflowError:
                raise CryptoError(
                    f"decrypted value at index {i} overflowed the {self.public_key.bits}-bit key's encoding range"
                ) from None
        return out


class PheKeypair(NamedTuple):
    public_key: PhePublicKey
    private_key: PhePrivateKey

    @classmethod
    def generate(cls, bits: int, *, allow_insecure_test_size: bool = False) -> PheKeypair:
        """``phe.paillier.generate_paillier_keypair`` (via the fast engine's size checks)."""
        _, sk = generate_keypair(bits, allow_insecure_test_size=allow_insecure_test_size)
        return cls.from_fast(sk)

    @classmethod
    def from_fast(cls, private_key: PrivateKey) -> PheKeypair:
        sk = PhePrivateKey.from_fast(private_key)
        return cls(sk.public_key, sk)


class PheEncryptedVector:
    """A list of ``phe.paillier.EncryptedNumber``; every operation is ``phe``'s, element by element.

    ``randomised`` mirrors :class:`EncryptedVector`: true after encryption, :meth:`obfuscate` and
    for received vectors; homomorphic results are not, and :meth:`to_proto` refuses to send them.
    """

    __array_ufunc__ = None  # ``ndarray + v`` / ``ndarray * v`` call our reflected operators

    def __init__(self, public_key: PhePublicKey, numbers: list[Any], *, randomised: bool) -> None:
        self.public_key = public_key
        self.numbers = numbers
        self.randomised = randomised

    def __len__(self) -> int:
        return len(self.numbers)

    def __repr__(self) -> str:
        return f"PheEncryptedVector(len={len(self)}, key={self.public_key.fingerprint()[:6].hex()}, randomised={self.randomised})"

    @property
    def exponents(self) -> np.ndarray:
        return np.array([int(a.exponent) for a in self.numbers], dtype=np.int64)

    def _derive(self, numbers: list[Any]) -> PheEncryptedVector:
        return PheEncryptedVector(self.public_key, numbers, randomised=False)

    # -- arithmetic ---------------------------------------------------------------------------

    def __add__(self, other: PheEncryptedVector | Plain) -> PheEncryptedVector:
        if isinstance(other, PheEncryptedVector):
            if other.public_key != self.public_key:
                raise CryptoError("encrypted vectors belong to different public keys")
            a, b = self.numbers, other.numbers
            if len(a) != len(b):
                if len(b) == 1:
                    b = b * len(a)
                elif len(a) == 1:
                    a = a * len(b)
                else:
                    raise CryptoError(f"cannot add encrypted vectors of lengths {len(a)} and {len(b)}")
            return self._derive([x + y for x, y in zip(a, b, strict=True)])
        if isinstance(other, EncryptedVector):
            raise CryptoError("cannot mix a phe-engine vector with a fast-engine vector: convert one")
        plain = _plain_list(other, len(self))
        return self._derive([x + v for x, v in zip(self.numbers, plain, strict=True)])

    def __radd__(self, other: Plain) -> PheEncryptedVector:
        return self.__add__(other)

    def __mul__(self, other: Plain) -> PheEncryptedVector:
        if isinstance(other, PheEncryptedVector | EncryptedVector):
            raise CryptoError("Paillier cannot multiply two ciphertexts")
        plain = _plain_list(other, len(self))
        return self._derive([x * v for x, v in zip(self.numbers, plain, strict=True)])

    def __rmul__(self, other: Plain) -> PheEncryptedVector:
        return self.__mul__(other)

    def sum(self) -> PheEncryptedVector:
        """``a + b + ...`` with ``phe``'s exponent alignment: a vector of length 1."""
        if not self.numbers:
            raise CryptoError("sum of an empty encrypted vector")
        return self._derive([functools.reduce(operator.add, self.numbers)])

    def dot(self, x: Plain, *, compute: ComputeBackend | None = None) -> PheEncryptedVector:
        """``sum_i enc_i * x_i``: one ``EncryptedNumber * float`` per term, summed."""
        del compute
        plain = _plain_list(x, len(self))
        return self._derive([functools.reduce(operator.add, map(operator.mul, self.numbers, plain))])

    def rmatmul(self, X: np.ndarray, *, compute: ComputeBackend | None = None) -> PheEncryptedVector:
        """``X.T @ self`` column by column, each a :meth:`dot` (what a phe user writes)."""
        del compute
        mat = np.asarray(X)
        if mat.ndim == 1:
            mat = mat.reshape(-1, 1)
        if mat.ndim != 2 or mat.shape[0] != len(self):
            raise CryptoError(f"matrix of shape {np.shape(X)} does not match {len(self)} ciphertexts")
        if not self.numbers:
            raise CryptoError("matrix product with an empty encrypted vector")
        out = []
        for j in range(mat.shape[1]):
            column = _plain_list(mat[:, j], len(self))
            out.append(functools.reduce(operator.add, map(operator.mul, self.numbers, column)))
        return self._derive(out)

    # -- randomisation ----------------------------------------------------------------------------

    def obfuscate(self, *, compute: ComputeBackend | None = None) -> PheEncryptedVector:
        """A copy with every number re-randomised by ``EncryptedNumber.obfuscate()`` (``r**n`` each)."""
        from phe import paillier

        del compute
        fresh = []
        for a in self.numbers:
            b = paillier.EncryptedNumber(self.public_key.phe, a.ciphertext(be_secure=False), a.exponent)
            b.obfuscate()
            fresh.append(b)
        return PheEncryptedVector(self.public_key, fresh, randomised=True)

    # -- interop and wire format ----------------------------------------------------------------------

    def to_fast(self) -> EncryptedVector:
        """The same ciphertexts and exponents as a fast-engine vector (no arithmetic, no re-encryption)."""
        cts = [mpz(a.ciphertext(be_secure=False)) for a in self.numbers]
        return EncryptedVector(self.public_key.to_fast(), cts, self.exponents, randomised=self.randomised)

    @classmethod
    def from_fast(cls, ev: EncryptedVector, public_key: PhePublicKey | None = None) -> PheEncryptedVector:
        """``phe`` numbers for a fast-engine vector (e.g. one the codec decoded from a peer)."""
        from phe import paillier

        if ev.packing is not None:
            raise CryptoError("packed vectors have no phe equivalent")
        pk = public_key or PhePublicKey.from_fast(ev.public_key)
        if pk.n != ev.public_key.n:
            raise CryptoError("encrypted vector belongs to a different public key")
        numbers = [
            paillier.EncryptedNumber(pk.phe, int(c), int(e))
            for c, e in zip(ev.ciphertexts, ev.exponents.tolist(), strict=True)
        ]
        return cls(pk, numbers, randomised=ev.randomised)

    def to_proto(self, *, require_randomised: bool = True) -> values_pb2.PaillierVector:
        """The fast engine's ``PaillierVector`` (per-element exponents where they differ)."""
        from silobridge.federation.v1 import values_pb2

        if require_randomised and not self.randomised:
            raise CryptoError(
                "refusing to serialise a homomorphically computed PheEncryptedVector that was not "
                "re-randomised: call .obfuscate() first (every ciphertext leaving a party must be fresh)"
            )
        exps = self.exponents
        uniform = len(self) == 0 or int(exps.min()) == int(exps.max())
        width = width_of(self.public_key.n**2)
        return values_pb2.PaillierVector(
            key_fingerprint=self.public_key.fingerprint(),
            width=width,
            count=len(self),
            data=pack_ciphertexts([a.ciphertext(be_secure=False) for a in self.numbers], width),
            exponents=[int(exps[0])] if uniform and len(self) else exps.tolist(),
            shape=[len(self)],
        )

    @classmethod
    def from_proto(cls, msg: values_pb2.PaillierVector, public_key: PhePublicKey) -> PheEncryptedVector:
        """A peer's vector, validated by :meth:`EncryptedVector.from_proto` (fingerprint, sizes, units)."""
        return cls.from_fast(EncryptedVector.from_proto(msg, public_key.to_fast()), public_key)


__all__ = [
    "PheEncryptedVector",
    "PheKeypair",
    "PhePrivateKey",
    "PhePublicKey",
]
