"""A federation wrapper that a cancelled task cannot wait in.

``BusFederation.close()`` cancels the receives that are waiting at that moment, but a receive
that starts just after would wait its whole timeout. This wrapper refuses new sends and
receives once cancelled and waits in short slices, so a cancelled component stops within
``poll_s`` whatever it was doing in the federation.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time

from silobridge.errors import PermanentError, RequestTimeout
from silobridge.federation.context import Federation

POLL_S = 0.5


class TaskCancelled(PermanentError):
    code = "cancelled"


class GuardedFederation(Federation):
    def __init__(self, inner: Federation, *, poll_s: float = POLL_S) -> None:
        self._inner = inner
        self._poll_s = poll_s
        self._cancelled = threading.Event()
        self._reason = ""

    def cancel(self, reason: str) -> None:
        self._reason = reason
        self._cancelled.set()

    def _check(self) -> None:
        if self._cancelled.is_set():
            raise TaskCancelled(self._reason or "task cancelled")

    def send(self, dst_party: int, dst_role: str, name: str, tag: str, payload: bytes) -> None:
        self._check()
        self._inner.send(dst_party, dst_role, name, tag, payload)

    def recv(self, src_party: int, name: str, tag: str, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        while True:
            self._check()
            left = deadline - time.monotonic()
            if left <= 0:
                raise RequestTimeout(
                    f"received no {name!r} (tag {tag}) from party {src_party} in {timeout:.0f}s"
                )
            try:
                return self._inner.recv(src_party, name, tag, min(left, self._poll_s))
            except RequestTimeout:
                continue  # this slice ended; a value arriving later waits in the mailbox
            except concurrent.futures.CancelledError:
                self._check()  # closed under us: report the cancellation, not a bare error
                raise
