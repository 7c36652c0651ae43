"""Fixed-point encoding, bit-compatible with python-paillier's ``EncodedNumber``.

A real ``x`` is stored as the integer mantissa ``round(x * 16**-e)`` with exponent ``e`` (base 16, as
in ``phe``), the mantissa taken modulo ``n``: non-negative values up to ``max_int = n // 3 - 1`` map to
themselves, negative ones to ``n - |m|``. Values that decrypt into the gap between ``max_int`` and
``n - max_int`` are an overflow and raise :class:`~silobridge.errors.CryptoError` rather than
returning garbage (the same detection rule as ``phe``).

A vector shares one exponent by default, chosen so that its largest magnitude keeps the 53
significant bits of a float64 (``phe`` picks one per value, which makes every later addition
pay an exponent alignment).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from silobridge.errors import CryptoError

BASE = 16
LOG2_BASE = 4
FLOAT_MANTISSA_BITS = 53
# Exponents a peer may send us: beyond this the alignment cost (16**diff) becomes a denial of service.
MAX_ABS_EXPONENT = 1100
_NUMPY_FAST_LIMIT = float(2**62)


def exponent_for_precision(precision: float) -> int:
    """Largest base-16 exponent whose step ``16**e`` is at most ``precision`` (``phe``'s rule)."""
    if not (precision > 0 and math.isfinite(precision)):
        raise CryptoError(f"precision must be a positive finite number, got {precision!r}")
    _, e2 = math.frexp(precision)
    return (e2 - 1) // LOG2_BASE


def default_exponent(values: np.ndarray) -> int:
    """Exponent that keeps 53 significant bits of the largest magnitude (0 for integer arrays)."""
    if values.dtype.kind in "iub" or values.dtype == object:
        return 0
    if values.size == 0:
        return 0
    finite = np.isfinite(values)
    if not finite.all():
        bad = values[~finite][0]
        raise CryptoError(f"cannot encrypt non-finite value {bad!r}")
    top = float(np.max(np.abs(values)))
    _, e2 = math.frexp(top)
    return math.floor((e2 - FLOAT_MANTISSA_BITS) / LOG2_BASE)


def choose_exponent(values: np.ndarray, precision: float | None, exponent: int | None) -> int:
    if exponent is not None and precision is not None:
        raise CryptoError("give either precision or exponent, not both")
    if exponent is not None:
        e = int(exponent)
    elif precision is not None:
        e = exponent_for_precision(precision)
    else:
        e = default_exponent(values)
    if abs(e) > MAX_ABS_EXPONENT:
        raise CryptoError(f"fixed-point exponent {e} is outside [-{MAX_ABS_EXPONENT}, {MAX_ABS_EXPONENT}]")
    return e


def as_array(x: object) -> np.ndarray:
    """A 1-D view of plaintext input: float64, int64 or object (Python ints)."""
    arr = np.asarray(x)
    if arr.dtype.kind == "b":
        arr = arr.astype(np.int64)
    elif arr.dtype.kind == "f":
        arr = arr.astype(np.float64, copy=False)
    elif arr.dtype.kind == "u":
        arr = arr.astype(object) if arr.size and int(arr.max()) >= 2**63 else arr.astype(np.int64)
    elif arr.dtype.kind not in "iO":
        raise CryptoError(f"cannot encrypt values of dtype {arr.dtype}: use floats or integers")
    return arr


def encode(values: np.ndarray, exponent: int, max_int: int, key_bits: int) -> np.ndarray | list[int]:
    """Signed mantissas ``round(values * 16**-exponent)``: an int64 array when small, else Python ints.

    Raises CryptoError naming the first value that does not fit in ``[-max_int, max_int]``.
    """
    flat = values.reshape(-1)
    if flat.dtype.kind == "f":
        if not np.isfinite(flat).all():
            bad = flat[~np.isfinite(flat)][0]
            raise CryptoError(f"cannot encrypt non-finite value {bad!r}")
        with np.errstate(over="ignore", invalid="ignore"):
            scaled = np.ldexp(flat, -LOG2_BASE * exponent)
        if not np.isfinite(scaled).all():
            bad = flat[~np.isfinite(scaled)][0]
            raise CryptoError(_overflow_message(float(bad), key_bits))
        rounded = np.rint(scaled)
        if flat.size == 0 or float(np.max(np.abs(rounded))) < _NUMPY_FAST_LIMIT:
            mantissas_np: np.ndarray = rounded.astype(np.int64)
            _check_range_np(mantissas_np, flat, max_int, key_bits)
            return mantissas_np
        ints = [int(v) for v in rounded.tolist()]
    elif flat.dtype.kind == "i" and exponent == 0:
        as_int64: np.ndarray = flat.astype(np.int64, copy=False)
        _check_range_np(as_int64, flat, max_int, key_bits)
        return as_int64
    else:
        ints = [_scale_int(int(v), exponent) for v in flat.tolist()]
    for v, m in zip(flat.tolist(), ints, strict=True):
        if abs(m) > max_int:
            raise CryptoError(_overflow_message(v, key_bits))
    return ints


def _scale_int(v: int, exponent: int) -> int:
    if exponent <= 0:
        return v << (LOG2_BASE * -exponent)
    step: int = 1 << (LOG2_BASE * exponent)
    q, r = divmod(v, step)  # round half to even, like round()
    half = step // 2
    if r > half or (r == half and q % 2 == 1):
        q += 1
    return q


def _check_range_np(mantissas: np.ndarray, values: np.ndarray, max_int: int, key_bits: int) -> None:
    if max_int >= 2**62 or mantissas.size == 0:
        return
    over = np.abs(mantissas) > max_int
    if over.any():
        raise CryptoError(_overflow_message(values[over][0].item(), key_bits))


def _overflow_message(value: object, key_bits: int) -> str:
    shown = f"{value:.6g}" if isinstance(value, float) else _short_int(value)
    return (
        f"plaintext {shown} does not fit in the {key_bits}-bit key's encoding range "
        f"(|mantissa| must stay below n/3): use a coarser precision or a larger key"
    )


def _short_int(value: object) -> str:
    text = str(value)
    return text if len(text) <= 24 else f"{text[:8]}...({len(text)} digits)"


def to_residues(mantissas: np.ndarray | Sequence[int], n: int) -> list[int]:
    """Signed mantissas as plaintexts in ``[0, n)``."""
    if isinstance(mantissas, np.ndarray):
        return [m % n for m in mantissas.tolist()]
    return [int(m) % n for m in mantissas]


def signed(residue: int, n: int, max_int: int, index: int, key_bits: int) -> int:
    """Mantissa in ``[-max_int, max_int]`` from a decrypted residue, or a clear overflow error."""
    if residue <= max_int:
        return residue
    if residue >= n - max_int:
        return residue - n
    raise CryptoError(
        f"decrypted value at index {index} overflowed the {key_bits}-bit key's encoding range "
        "(the encrypted computation exceeded n/3 in magnitude)"
    )


def decode(mantissas: Sequence[int], exponents: np.ndarray) -> np.ndarray:
    """float64 values ``m * 16**e``; exact when representable, correctly scaled for huge mantissas."""
    out = np.empty(len(mantissas), dtype=np.float64)
    exps = exponents.tolist()
    for i, (m, e) in enumerate(zip(mantissas, exps, strict=True)):
        bl = abs(m).bit_length()
        try:
            if bl <= 1000:
                out[i] = math.ldexp(float(m), LOG2_BASE * e) if m else 0.0
            else:
                shift = bl - 64
                out[i] = math.ldexp(float(m >> shift), LOG2_BASE * e + shift)
        except OverflowError:
            out[i] = math.inf if m > 0 else -math.inf
    return out
