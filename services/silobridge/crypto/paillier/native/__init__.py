"""The optional native kernel (``montgomery.c``): Montgomery multiplication on GMP's mpn layer.

``make install`` builds it (``python -m silobridge.crypto.paillier.native.build``); without a C
compiler or GMP's headers the build logs one line and the engine stays pure Python. Every entry
point takes and returns canonical residues, so results are the same integers either way (tested
bit for bit against the Python engine in ``tests/unit/crypto/test_paillier_native.py``).

Residues cross as arrays of 64-bit limbs; ctypes releases the GIL for the duration of each call.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from gmpy2 import mpz

from silobridge.errors import CryptoError

log = logging.getLogger(__name__)

LIBRARY = Path(__file__).with_name("_montgomery.so")
MAX_LIMBS = 256  # as montgomery.c: n^2 of an 8192-bit key

_lib: ctypes.CDLL | None = None
_loaded = False
_enabled = True
_lock = threading.Lock()
_P = ctypes.c_void_p
_S = ctypes.c_size_t
_K = ctypes.c_long
_SIGNATURES = {
    "sb_fixed_base_table": [_P, _P, _K, _P, ctypes.c_int, _S, _P],
    "sb_fixed_base_pow": [_P, _K, _P, ctypes.c_int, _S, _P, _S, _S, _P],
    "sb_msm": [_P, _P, _K, _P, _S, _P, _S, _P],
    "sb_mulmod": [_P, _P, _K, _P, _P, _S, _P],
    "sb_ifma_supported": [],
    "sb_ifma_limbs": [ctypes.c_int],
    "sb_ifma_fixed_base_pow": [_P, _K, _P, ctypes.c_int, _S, _P, _S, _S, _P],
    "sb_ifma_msm": [_P, _P, _K, _P, _P, _S, _P, _S, _P],
    "sb_ifma_table_build": [_P, _P, _K, _P, _P, ctypes.c_int, _S, _P],
}
_ifma: bool | None = None


def _load() -> ctypes.CDLL | None:
    global _lib, _loaded
    with _lock:
        if _loaded:
            return _lib
        _loaded = True
        if not LIBRARY.exists():
            log.info("native Paillier kernel not built (make native); using the pure-Python engine")
            return None
        try:
            lib = ctypes.CDLL(str(LIBRARY))
            for name, args in _SIGNATURES.items():
                fn = getattr(lib, name)
                fn.argtypes, fn.restype = args, ctypes.c_int
        except (OSError, AttributeError) as exc:
            log.warning("native Paillier kernel unusable (%s); using the pure-Python engine", exc)
            return None
        _lib = lib
        return lib


def available() -> bool:
    """Whether the engine uses the native kernel (built, loadable and not switched off)."""
    return _enabled and _load() is not None


def ifma() -> bool:
    """Whether fixed-base tables use the eight-lane AVX-512 IFMA path (CPU checked at run time)."""
    global _ifma
    lib = _load() if _enabled else None
    if lib is None:
        return False
    if _ifma is None:
        _ifma = bool(lib.sb_ifma_supported())
    return _ifma and _ifma_enabled


_ifma_enabled = True


def enable_ifma(on: bool) -> bool:
    """Switch the IFMA path on or off (tests compare it with the 64-bit path); returns the old setting."""
    global _ifma_enabled
    old, _ifma_enabled = _ifma_enabled, on
    return old


def enable(on: bool) -> bool:
    """Switch the native kernel on or off in this process (benchmarks, tests); returns the old setting."""
    global _enabled
    old, _enabled = _enabled, on
    return old


class Modulus:
    """An odd modulus as limbs, with ``R^2 mod m`` (``R = 2**(64 k)``) for Montgomery conversions."""

    __slots__ = ("_c52", "k", "limbs", "modulus", "r2")

    def __init__(self, modulus: int) -> None:
        m = int(modulus)
        if m < 3 or m % 2 == 0:
            raise CryptoError("Montgomery arithmetic needs an odd modulus > 2")
        self.modulus = mpz(m)
        self.k = -(-m.bit_length() // 64)
        if self.k > MAX_LIMBS:
            raise CryptoError(
                f"modulus of {m.bit_length()} bits is beyond the native kernel's {64 * MAX_LIMBS}"
            )
        width = 8 * self.k
        self.limbs = np.frombuffer(m.to_bytes(width, "little"), dtype="<u8").copy()
        self.r2 = self.to_limbs([(1 << (128 * self.k)) % m])
        self._c52: np.ndarray | None = None

    def c52(self, lib: ctypes.CDLL) -> np.ndarray:
        """``R52 * R64 mod m``: turns a residue into radix-2**52 Montgomery form in one multiplication."""
        if self._c52 is None:
            limbs = int(lib.sb_ifma_limbs(64 * self.k))
            self._c52 = self.to_limbs([(1 << (52 * limbs + 64 * self.k)) % int(self.modulus)])
        return self._c52

    def to_limbs(self, values: Sequence[int | mpz]) -> np.ndarray:
        width, m = 8 * self.k, self.modulus
        data = b"".join(int(v if 0 <= v < m else v % m).to_bytes(width, "little") for v in values)
        return np.frombuffer(data, dtype="<u8").reshape(len(values), self.k).copy()

    def from_limbs(self, arr: np.ndarray) -> list[mpz]:
        width = 8 * self.k
        view = memoryview(np.ascontiguousarray(arr, dtype="<u8").tobytes())
        return [mpz(int.from_bytes(view[i * width : (i + 1) * width], "little")) for i in range(len(arr))]


def _lib_or_raise() -> ctypes.CDLL:
    lib = _load()
    if lib is None:
        raise CryptoError("the native Paillier kernel is not available")
    return lib


def _check(rc: int, what: str) -> None:
    if rc == -2:
        raise CryptoError(f"{what}: a value is not invertible modulo n^2 (malformed ciphertext)")
    if rc:
        raise CryptoError(f"{what}: the native kernel refused its arguments")


def _ptr(arr: np.ndarray) -> int:
    return int(arr.ctypes.data)


class Table:
    """A fixed-base table: Montgomery form in 64-bit limbs, or radix 2**52 for the IFMA path."""

    __slots__ = ("data", "ifma", "window")

    def __init__(self, data: np.ndarray, window: int, ifma: bool) -> None:
        self.data, self.window, self.ifma = data, window, ifma

    @property
    def rows(self) -> int:
        return int(self.data.shape[0])


def fixed_base_table(mod: Modulus, base: int | mpz, window: int, rows: int, *, lanes: bool = True) -> Table:
    """Row ``i``, entry ``d``: ``base**(d * 2**(window*i))`` in Montgomery form (IFMA radix when it can)."""
    lib = _lib_or_raise()
    b = mod.to_limbs([int(base) % int(mod.modulus)])
    if lanes and ifma():
        limbs = int(lib.sb_ifma_limbs(64 * mod.k))
        table52 = np.zeros((rows, 1 << window, limbs), dtype="<u8")
        rc = lib.sb_ifma_table_build(
            _ptr(mod.limbs), _ptr(mod.r2), mod.k, _ptr(mod.c52(lib)), _ptr(b), window, rows, _ptr(table52)
        )
        _check(rc, "fixed-base table (IFMA)")
        return Table(table52, window, True)
    table = np.zeros((rows, 1 << window, mod.k), dtype="<u8")
    rc = lib.sb_fixed_base_table(_ptr(mod.limbs), _ptr(mod.r2), mod.k, _ptr(b), window, rows, _ptr(table))
    _check(rc, "fixed-base table")
    return Table(table, window, False)


def fixed_base_pow(mod: Modulus, table: Table, exps: bytes, n_bytes: int) -> list[mpz]:
    """``base**e`` for each ``n_bytes``-long little-endian exponent in ``exps``."""
    count = len(exps) // n_bytes
    out = np.empty((count, mod.k), dtype="<u8")
    buf = np.frombuffer(exps, dtype=np.uint8)
    lib = _lib_or_raise()
    fn = lib.sb_ifma_fixed_base_pow if table.ifma else lib.sb_fixed_base_pow
    rc = fn(
        _ptr(mod.limbs),
        mod.k,
        _ptr(table.data),
        table.window,
        table.rows,
        _ptr(buf),
        n_bytes,
        count,
        _ptr(out),
    )
    _check(rc, "fixed-base exponentiation")
    return mod.from_limbs(out)


def msm(mod: Modulus, bases: Sequence[mpz], scalars: np.ndarray, *, lanes: bool = True) -> list[mpz]:
    """``[prod_i bases[i]**scalars[i, j] for j]`` for an (n, d) matrix of signed int64 scalars."""
    mat = np.ascontiguousarray(scalars, dtype=np.int64)
    n, d = mat.shape
    if n != len(bases):
        raise CryptoError(f"scalar matrix of shape {mat.shape} does not match {len(bases)} ciphertexts")
    if mat.size and int(mat.min()) == np.iinfo(np.int64).min:
        raise CryptoError("a scalar of the multi-exponentiation is out of range")
    b = mod.to_limbs(bases) if n else np.zeros((1, mod.k), dtype="<u8")
    out = np.empty((d, mod.k), dtype="<u8")
    lib = _lib_or_raise()
    if ifma() and lanes:
        c52 = mod.c52(lib)
        rc = lib.sb_ifma_msm(
            _ptr(mod.limbs), _ptr(mod.r2), mod.k, _ptr(c52), _ptr(b), n, _ptr(mat), d, _ptr(out)
        )
    else:
        rc = lib.sb_msm(_ptr(mod.limbs), _ptr(mod.r2), mod.k, _ptr(b), n, _ptr(mat), d, _ptr(out))
    _check(rc, "multi-exponentiation")
    return mod.from_limbs(out)


def mulmod(mod: Modulus, a: Sequence[mpz], b: Sequence[mpz]) -> list[mpz]:
    """``a[i] * b[i] mod m`` for residues below ``m``."""
    if len(a) != len(b):
        raise CryptoError(f"{len(a)} residues times {len(b)}")
    if not a:
        return []
    la, lb = mod.to_limbs(a), mod.to_limbs(b)
    out = np.empty_like(la)
    rc = _lib_or_raise().sb_mulmod(
        _ptr(mod.limbs), _ptr(mod.r2), mod.k, _ptr(la), _ptr(lb), len(a), _ptr(out)
    )
    _check(rc, "modular multiplication")
    return mod.from_limbs(out)
