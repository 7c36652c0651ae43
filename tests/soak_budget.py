"""How long a stress test keeps going: ``SILOBRIDGE_SOAK_SECONDS`` (``make soak``), or its default."""

from __future__ import annotations

import os


def soak_seconds(default: float) -> float:
    raw = os.environ.get("SILOBRIDGE_SOAK_SECONDS")
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"SILOBRIDGE_SOAK_SECONDS must be a number of seconds, not {raw!r}") from None
    if value <= 0:
        raise ValueError(f"SILOBRIDGE_SOAK_SECONDS must be positive, not {raw!r}")
    return value
