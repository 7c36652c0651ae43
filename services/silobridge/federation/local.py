"""In-process twin of the federation transport: several parties in threads, one mailbox.

For component unit tests and benchmarks. Payloads are bytes, as on the wire, and every payload
is recorded (``hub.sent``) so tests can inspect exactly what would have crossed a boundary.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from silobridge.errors import RequestTimeout
from silobridge.federation.context import Federation


@dataclass(frozen=True)
class SentPayload:
    src: int
    dst: int
    name: str
    tag: str
    payload: bytes


class LocalHub:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._box: dict[tuple[int, int, str, str], bytes] = {}
        self.sent: list[SentPayload] = []

    def federation(self, party_id: int) -> Federation:
        return _LocalFederation(self, party_id)

    def _put(self, item: SentPayload) -> None:
        with self._cond:
            self.sent.append(item)
            self._box[(item.src, item.dst, item.name, item.tag)] = item.payload
            self._cond.notify_all()

    def _take(self, src: int, dst: int, name: str, tag: str, timeout: float) -> bytes:
        key = (src, dst, name, tag)
        with self._cond:
            if not self._cond.wait_for(lambda: key in self._box, timeout):
                raise RequestTimeout(
                    f"party {dst} got no {name!r} (tag {tag}) from party {src} in {timeout:.0f}s"
                )
            return self._box.pop(key)


class _LocalFederation(Federation):
    def __init__(self, hub: LocalHub, party_id: int) -> None:
        self.hub, self.party_id = hub, party_id

    def send(self, dst_party: int, dst_role: str, name: str, tag: str, payload: bytes) -> None:
        self.hub._put(SentPayload(self.party_id, dst_party, name, tag, bytes(payload)))

    def recv(self, src_party: int, name: str, tag: str, timeout: float) -> bytes:
        return self.hub._take(src_party, self.party_id, name, tag, timeout)


def run_in_threads(jobs: dict[int, Callable[[], Any]], timeout: float = 600.0) -> dict[int, Any]:
    """Run one callable per party concurrently; re-raise the first failure."""
    results: dict[int, Any] = {}
    errors: dict[int, BaseException] = {}

    def runner(party: int, fn: Callable[[], Any]) -> None:
        try:
            results[party] = fn()
        except BaseException as exc:
            errors[party] = exc

    threads = [threading.Thread(target=runner, args=(p, f), daemon=True) for p, f in jobs.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    if errors:
        _, exc = sorted(errors.items())[0]
        raise exc
    return results
