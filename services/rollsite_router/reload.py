"""Configuration a running router takes again without a restart: its route table and TLS material.

Each source is polled every ``reload_interval_s`` (a cheap stat; the files are read only when
they changed, see :mod:`rollsite_router.filewatch`) and read at once on SIGHUP. A new file that
cannot be used is logged and refused, and what is in force stays: a broken route table never
empties the table, a half-written rotation never leaves the router without a certificate. Every
attempt is counted in ``silobridge_router_reloads_total{source, outcome=ok|failed}``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from prometheus_client import Counter

from rollsite_router.routes import RouteTable
from silobridge.errors import SilobridgeError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Source:
    """One reloadable piece of configuration."""

    #: The metric label and the word in log lines: ``routes``, ``tls``.
    name: str
    #: Cheap: did the files change since last asked?
    changed: Callable[[], bool]
    #: Read and put in force; True when something new is in force now. Raises when unusable,
    #: having changed nothing.
    reload: Callable[[], bool]


class Reloader:
    """Runs the reloads of a set of sources, logs and counts them; never raises."""

    def __init__(self, sources: Sequence[Source], counter: Counter) -> None:
        self.sources = {s.name: s for s in sources}
        self._counter = counter

    def poll(self, name: str | None = None) -> None:
        """Reload each source (or only ``name``) whose files changed."""
        for source in self.sources.values():
            if name in (None, source.name) and source.changed():
                self.run(source)

    def reload_all(self) -> None:
        """Read every source now, changed or not (SIGHUP)."""
        for source in self.sources.values():
            source.changed()  # what is read now is the state the next poll compares against
            self.run(source)

    def run(self, source: Source) -> bool:
        try:
            changed = source.reload()
        except SilobridgeError as exc:
            self._counter.labels(source.name, "failed").inc()
            log.error(
                "%s reload refused, keeping the configuration in force: %s",
                source.name,
                exc,
                extra={"event": "reload_failed", "source": source.name},
            )
            return False
        except Exception:
            self._counter.labels(source.name, "failed").inc()
            log.exception("%s reload failed, keeping the configuration in force", source.name)
            return False
        self._counter.labels(source.name, "ok").inc()
        return changed

    async def watch(self, interval_s: float) -> None:
        """The polling loop (a background task of the service)."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                self.poll()
            except Exception:  # a stat that fails oddly must not end the watcher
                log.exception("configuration check failed")


def describe_change(old: RouteTable, new: RouteTable) -> str:
    """For the log line of a reload: which peers came, went or moved."""
    added = sorted(set(new.routes) - set(old.routes))
    removed = sorted(set(old.routes) - set(new.routes))
    moved = sorted(p for p in set(old.routes) & set(new.routes) if old.routes[p] != new.routes[p])
    parts = [f"{len(new.routes)} routes"]
    for word, ids in (("added", added), ("removed", removed), ("moved", moved)):
        if ids:
            parts.append(f"{word} {', '.join(map(str, ids))}")
    if old.default != new.default:
        parts.append("default route changed")
    if old.allow != new.allow:
        parts.append("allow list changed")
    return "; ".join(parts)
