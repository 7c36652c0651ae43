"""Side-by-side throughput: interleaved rounds, median ops/s per engine."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Measurement:
    ops_per_round: dict[str, int]
    rates: dict[str, list[float]] = field(default_factory=dict)

    def median(self, engine: str) -> float:
        return statistics.median(self.rates[engine])


def interleaved(runners: dict[str, tuple[int, Callable[[], object]]], rounds: int) -> Measurement:
    """Run each engine's callable once per round, alternating engines; record ops/s.

    ``runners`` maps engine name to (operations per call, callable). Alternating inside one process
    exposes both engines to the same machine state, so the ratio is robust to load drift.
    """
    m = Measurement({name: ops for name, (ops, _) in runners.items()})
    for name in runners:
        m.rates[name] = []
    for r in range(rounds):
        order = list(runners) if r % 2 == 0 else list(reversed(runners))
        for name in order:
            ops, fn = runners[name]
            t0 = time.perf_counter()
            fn()
            dt = time.perf_counter() - t0
            m.rates[name].append(ops / dt)
    return m
