"""settle(): the one table that maps a handler's outcome to ack / requeue / dead-letter."""

from __future__ import annotations

import pytest

from silobridge.bus.base import settle
from silobridge.errors import (
    BusUnavailable,
    Disposition,
    IntegrityError,
    NotFound,
    PermanentError,
    RequestTimeout,
    RetryableError,
)


def test_success_is_acknowledged_even_on_the_last_delivery() -> None:
    assert settle(None, 1, 5) is Disposition.ACK
    assert settle(None, 9, 5) is Disposition.ACK


@pytest.mark.parametrize(
    "exc", [RetryableError("busy"), BusUnavailable("down"), RequestTimeout("slow"), ValueError("bug")]
)
def test_retryable_and_unexpected_errors_are_requeued_until_the_last_delivery(exc: Exception) -> None:
    assert [settle(exc, n, 3) for n in (1, 2, 3, 4)] == [
        Disposition.REQUEUE,
        Disposition.REQUEUE,
        Disposition.DEAD_LETTER,
        Disposition.DEAD_LETTER,
    ]


@pytest.mark.parametrize("exc", [PermanentError("no"), IntegrityError("digest"), NotFound("gone")])
def test_permanent_errors_are_dead_lettered_at_once(exc: Exception) -> None:
    assert settle(exc, 1, 5) is Disposition.DEAD_LETTER


def test_one_delivery_allowed_means_no_retry() -> None:
    assert settle(RetryableError("busy"), 1, 1) is Disposition.DEAD_LETTER
