"""Failure propagation between the parties of one task.

A party that fails sends ``{"reason": <public message>}`` as ``abort`` to every other party of
the job, then raises. Every protocol receive goes through :func:`recv_checked`, which waits on
the expected message in short slices and, between slices, looks for an abort from any peer:
a peer's failure becomes a :class:`PeerAborted` naming that party and its reason, instead of
a receive that blocks until its timeout.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from silobridge.errors import ComponentError, PermanentError, RequestTimeout, public_message
from silobridge.federation.context import TaskContext

log = logging.getLogger(__name__)

ABORT_NAME = "abort"
ABORT_TAG = "abort"
POLL_S = 0.2
_INSTANT = 1e-3

T = TypeVar("T")


class PeerAborted(ComponentError):
    """Another party of the task failed; its public reason is in the message."""


def _peers(ctx: TaskContext) -> list[int]:
    return sorted({p for ids in ctx.parties.values() for p in ids if p != ctx.party_id})


def broadcast_abort(ctx: TaskContext, reason: str) -> None:
    """Best effort: tell every other party why this one stops."""
    for party in _peers(ctx):
        try:
            ctx.send(party, ABORT_NAME, {"reason": reason}, tag=ABORT_TAG)
        except Exception as exc:  # the task fails anyway; a peer we cannot reach times out
            log.warning("could not send abort to party %s: %s", party, exc)
            if isinstance(exc, PermanentError):  # e.g. the task was cancelled: no send will pass
                break


def _check_aborts(ctx: TaskContext) -> None:
    for party in _peers(ctx):
        with contextlib.suppress(RequestTimeout):
            value = ctx.recv(party, ABORT_NAME, tag=ABORT_TAG, timeout=_INSTANT)
            reason = value.get("reason", "no reason given") if isinstance(value, dict) else "no reason given"
            raise PeerAborted(f"party {party} ({ctx.role_of(party)}) aborted: {str(reason)[:500]}")


def recv_checked(ctx: TaskContext, frm: int | str, name: str, tag: str) -> Any:
    """``ctx.recv`` that fails fast when any peer aborts; ``tag`` is explicit so polls stay matched."""
    deadline = time.monotonic() + ctx.recv_timeout_s
    while True:
        try:
            return ctx.recv(frm, name, tag=tag, timeout=POLL_S)
        except RequestTimeout:
            _check_aborts(ctx)
            if time.monotonic() > deadline:
                raise RequestTimeout(
                    f"party {ctx.party_id} received no {name!r} (tag {tag}) from {frm} "
                    f"in {ctx.recv_timeout_s:.0f}s"
                ) from None


def recv_all_checked(ctx: TaskContext, role: str, name: str, tag: str) -> list[Any]:
    return [recv_checked(ctx, party, name, tag) for party in ctx.parties_of(role)]


def guarded(fn: Callable[[TaskContext], T]) -> Callable[[TaskContext], T]:
    """Wrap a role function: on failure, broadcast the public reason before re-raising."""

    @functools.wraps(fn)
    def wrapper(ctx: TaskContext) -> T:
        try:
            return fn(ctx)
        except PeerAborted:
            raise
        except BaseException as exc:
            broadcast_abort(ctx, public_message(exc))
            raise

    return wrapper


def collect_within(
    ctx: TaskContext, parties: list[int], name: str, tag: str, timeout_s: float
) -> dict[int, Any]:
    """``name`` from each of ``parties`` that sends it within ``timeout_s``; the others are left out.

    For protocols that tolerate dropouts: a missing party is reported by its absence, not an error.
    A peer's abort still fails fast.
    """
    got: dict[int, Any] = {}
    pending = list(parties)
    deadline = time.monotonic() + timeout_s
    while pending:
        first, *rest = pending
        with contextlib.suppress(RequestTimeout):
            wait = max(_INSTANT, min(POLL_S, deadline - time.monotonic()))
            got[first] = ctx.recv(first, name, tag=tag, timeout=wait)
        for party in rest:
            with contextlib.suppress(RequestTimeout):
                got[party] = ctx.recv(party, name, tag=tag, timeout=_INSTANT)
        pending = [p for p in pending if p not in got]
        if not pending or time.monotonic() > deadline:
            break
        _check_aborts(ctx)
    return got
