"""Outbound messages with an expiry: the ``expires-at`` header (unix seconds) set by flow.

A heartbeat is worthless once late, and one retried for ``send_retry_s`` toward a dead peer
would hold an outbound slot that traffic to live peers needs. So the router stops trying at
the expiry and drops the message (outcome ``expired``), never requeueing it. Messages without
the header (all job data) never expire. The header is local: it never crosses to the peer.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping

from silobridge.topics import EXPIRES_AT_HEADER


def expires_at(headers: Mapping[str, str]) -> float | None:
    """The message's expiry, or None (no header, or not a finite number: it never expires)."""
    raw = headers.get(EXPIRES_AT_HEADER)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def passed(expiry: float | None, now: float | None = None) -> bool:
    return expiry is not None and (time.time() if now is None else now) >= expiry


def retry_deadline(monotonic_deadline: float, expiry: float | None) -> float:
    """The retry deadline (``time.monotonic`` clock), brought forward to the expiry."""
    if expiry is None:
        return monotonic_deadline
    return min(monotonic_deadline, time.monotonic() + (expiry - time.time()))
