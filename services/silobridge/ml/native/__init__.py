"""The optional native PSI kernel (``x25519.c``): X25519 and the Elligator 2 map on AVX-512 IFMA,
eight points at a time.

``make install`` builds it (``python -m silobridge.ml.native.build``); without a C compiler it logs
one line and ``silobridge.ml.ecc`` blinds with ``cryptography``'s X25519, with the same bytes
(tested bit for bit, on hashed ids and on arbitrary 32-byte strings, in
``tests/unit/ml/test_ecc_native.py``). It is used only where the CPU has AVX-512 IFMA (checked at
run time). ctypes releases the GIL for each call.
"""

from __future__ import annotations

import ctypes
import functools
import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

LIBRARY = Path(__file__).with_name("_x25519.so")
POINT_BYTES = 32

_enabled = True


@functools.cache
def _load() -> ctypes.CDLL | None:
    """The kernel, once per process; None (with one log line) where it cannot be used."""
    fallback = "PSI blinds with cryptography's X25519"
    if not LIBRARY.exists():
        log.info("native X25519 kernel not built (make native); %s", fallback)
        return None
    try:
        lib = ctypes.CDLL(str(LIBRARY))
        lib.sb_x25519_supported.restype = ctypes.c_int
        lib.sb_x25519.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
        lib.sb_x25519.restype = ctypes.c_longlong
        lib.sb_elligator2.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
        lib.sb_elligator2.restype = ctypes.c_longlong
    except (OSError, AttributeError) as exc:
        log.warning("native X25519 kernel unusable (%s); %s", exc, fallback)
        return None
    if not lib.sb_x25519_supported():
        log.info("this CPU has no AVX-512 IFMA; %s", fallback)
        return None
    return lib


def available() -> bool:
    """Whether PSI blinds with the native kernel (built, loadable, the CPU has IFMA, not switched off)."""
    return _enabled and _load() is not None


def enable(on: bool) -> bool:
    """Switch the native kernel on or off in this process (tests, benchmarks); returns the old setting."""
    global _enabled
    old, _enabled = _enabled, on
    return old


def _rows(points: np.ndarray) -> np.ndarray:
    src = np.ascontiguousarray(points, dtype=np.uint8)
    if src.ndim != 2 or src.shape[1] != POINT_BYTES:
        raise ValueError("the native kernel takes a uint8 [n, 32] array")
    return src


def elligator2(fields: np.ndarray) -> np.ndarray | None:
    """RFC 9380's Elligator 2 map for Curve25519 on field elements (uint8 [n, 32], little-endian,
    below p): the u-coordinates, or None when the kernel cannot map them (the caller maps them in
    Python). Call only when :func:`available`."""
    lib = _load()
    if lib is None:
        raise ValueError("the native kernel is not built")
    src = _rows(fields)
    out = np.empty_like(src)
    return out if lib.sb_elligator2(src.ctypes.data, len(src), out.ctypes.data) < 0 else None


def x25519(scalar: bytes, points: np.ndarray) -> tuple[np.ndarray, int]:
    """X25519(scalar, p) for every row of a uint8 [n, 32] array, and the index of the first point
    whose result is all zeros (small order), or -1. Call only when :func:`available`."""
    lib = _load()
    if lib is None or len(scalar) != POINT_BYTES:
        raise ValueError("native X25519 needs the built kernel and a 32-byte scalar")
    src = _rows(points)
    out = np.empty_like(src)
    bad = int(lib.sb_x25519(scalar, src.ctypes.data, len(src), out.ctypes.data))
    return out, bad
