"""Fixed-point encoding of float vectors into integers modulo 2^64, for secure aggregation.

A value ``x`` becomes ``round(x * 2^frac_bits)`` in two's complement, i.e. an element of
Z/2^64. Sums of encodings wrap modulo 2^64 exactly like the masks do, and decode correctly as
long as the true sum stays inside (-2^63, 2^63): :class:`FixedPoint` checks that bound for a
given number of summands before anything is encoded (the "overflow-safe modulus").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from silobridge.errors import InvalidInput

MODULUS_BITS = 64


@dataclass(frozen=True)
class FixedPoint:
    frac_bits: int
    bound: float  # largest |x| a summand may hold
    summands: int  # most vectors that are ever added together

    def __post_init__(self) -> None:
        if not 0 <= self.frac_bits <= 52:
            raise InvalidInput(f"fixed-point fraction bits must be in [0, 52], got {self.frac_bits}")
        if self.bound <= 0 or self.summands < 1:
            raise InvalidInput("fixed-point bound and summand count must be positive")
        headroom = self.summands * self.bound * 2.0**self.frac_bits
        if headroom >= 2.0 ** (MODULUS_BITS - 1):
            raise InvalidInput(
                f"fixed-point range overflows: {self.summands} summands of |x| <= {self.bound:g} "
                f"with {self.frac_bits} fraction bits need more than {MODULUS_BITS - 1} bits; "
                "lower the bound or the fraction bits"
            )

    @property
    def precision(self) -> float:
        return 2.0**-self.frac_bits

    def encode(self, x: np.ndarray) -> np.ndarray:
        """Floats -> uint64 (mod 2^64). Refuses values outside ``±bound`` rather than wrapping them."""
        x = np.asarray(x, dtype=np.float64)
        if not np.all(np.isfinite(x)):
            raise InvalidInput("cannot encode NaN or infinite values in fixed point")
        if x.size and float(np.max(np.abs(x))) > self.bound:
            raise InvalidInput(
                f"a value of magnitude {float(np.max(np.abs(x))):.3g} exceeds the fixed-point bound "
                f"{self.bound:g} of secure aggregation"
            )
        return np.rint(x * 2.0**self.frac_bits).astype(np.int64).view(np.uint64)

    def decode(self, v: np.ndarray) -> np.ndarray:
        """uint64 (a sum of at most ``summands`` encodings) -> floats."""
        return np.asarray(v, dtype=np.uint64).view(np.int64).astype(np.float64) * 2.0**-self.frac_bits
