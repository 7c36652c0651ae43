"""Differential privacy for horizontal FL: clipping a client's update, Gaussian noise, and the
accountant that turns them into (epsilon, delta).

Client-level DP: a client clips its round update ``d = w_local - w_global`` to L2 norm ``C`` and
adds ``N(0, (sigma*C)^2)`` to every coordinate before anything leaves it, so whoever sees its update
(or any sum containing it) sees a Gaussian mechanism of sensitivity ``C`` and noise multiplier
``sigma``. The noise comes from the operating system's randomness, never from the job's seed (a
seeded noise could be subtracted by anyone who knows the seed).

The accountant is Rényi DP of the Gaussian mechanism (Mironov 2017): order ``a`` costs
``a / (2 sigma^2)`` per round, rounds compose by addition, and ``eps = min over a of RDP(a) + log(1/delta)/(a-1)``.
Every client takes part in every round (no subsampling amplification is claimed).
"""

from __future__ import annotations

import math
import secrets

import numpy as np

from silobridge.errors import InvalidInput

ORDERS = (
    1.25,
    1.5,
    1.75,
    2.0,
    2.5,
    3.0,
    4.0,
    5.0,
    6.0,
    8.0,
    10.0,
    12.0,
    16.0,
    20.0,
    32.0,
    64.0,
    128.0,
    256.0,
)


def gaussian_epsilon(rounds: int, noise_multiplier: float, delta: float) -> float:
    """The epsilon of ``rounds`` Gaussian mechanisms of noise multiplier ``sigma`` at ``delta``."""
    if noise_multiplier <= 0:
        return math.inf
    if not 0 < delta < 1:
        raise InvalidInput(f"delta must be in (0, 1), not {delta}")
    return min(rounds * a / (2.0 * noise_multiplier**2) + math.log(1.0 / delta) / (a - 1.0) for a in ORDERS)


def clip(update: np.ndarray, bound: float) -> np.ndarray:
    """``update`` scaled down to L2 norm at most ``bound``."""
    norm = float(np.linalg.norm(update))
    return update if norm <= bound else update * (bound / norm)


def privatise(update: np.ndarray, bound: float, noise_multiplier: float) -> np.ndarray:
    """Clip to ``bound`` and add Gaussian noise of standard deviation ``noise_multiplier * bound``."""
    rng = np.random.default_rng(secrets.randbits(128))
    clipped = clip(np.asarray(update, dtype=np.float64), bound)
    return np.asarray(clipped + rng.normal(0.0, noise_multiplier * bound, size=clipped.shape))
