"""Run one component at several parties in threads over :class:`LocalHub`.

Every party gets its own :class:`TaskContext` (its own key ring, compute backend and metric
sink) and the hub records every payload that would cross a party boundary (``run.hub.sent``).
Failures are collected per party instead of re-raising the first one, so tests can check what
every party reports.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from silobridge.components import registry
from silobridge.components.registry import ComponentDef, TaskResult
from silobridge.compute.local import LocalBackend
from silobridge.disclosure import DisclosureLimits
from silobridge.federation.context import TaskContext
from silobridge.federation.local import LocalHub
from silobridge.table import Table


@dataclass
class FederatedRun:
    hub: LocalHub
    results: dict[int, TaskResult] = field(default_factory=dict)
    errors: dict[int, BaseException] = field(default_factory=dict)
    metrics: dict[int, list[tuple[str, float, int]]] = field(default_factory=dict)
    progress: dict[int, list[float]] = field(default_factory=dict)

    def result(self, party: int) -> TaskResult:
        """The party's result, re-raising its error if it failed."""
        if party in self.errors:
            raise self.errors[party]
        return self.results[party]

    def raise_any(self) -> None:
        if self.errors:
            raise next(iter(sorted(self.errors.items())))[1]


def run_component(
    component: str | ComponentDef,
    parties: Mapping[str, list[int]],
    *,
    inputs: Mapping[int, Mapping[str, Table]] | None = None,
    params: Mapping[str, Any] | None = None,
    party_params: Mapping[int, Mapping[str, Any]] | None = None,
    input_models: Mapping[int, Mapping[str, Any]] | None = None,
    limits: Mapping[int, DisclosureLimits] | None = None,
    workers: int = 1,
    recv_timeout_s: float = 120.0,
    timeout_s: float = 300.0,
    job_id: str = "test-job",
) -> FederatedRun:
    """Run ``component`` at every party of ``parties`` ({role: [party ids]}) and wait for all.

    ``limits`` are per-party disclosure limits (the default ones where a party has none).
    """
    defn = registry.get(component) if isinstance(component, str) else component
    hub = LocalHub()
    run = FederatedRun(hub=hub)
    roles = {role: sorted(ids) for role, ids in parties.items() if ids}
    contexts: list[TaskContext] = []
    for role, ids in roles.items():
        if role not in defn.roles:
            continue
        for party in ids:
            merged = {**(params or {}), **((party_params or {}).get(party, {}))}
            metrics: list[tuple[str, float, int]] = []
            progress: list[float] = []
            run.metrics[party], run.progress[party] = metrics, progress
            contexts.append(
                TaskContext(
                    job_id=job_id,
                    task_name=defn.name,
                    party_id=party,
                    role=role,
                    parties=roles,
                    federation=hub.federation(party),
                    compute=LocalBackend(workers),
                    params=defn.validate(merged, where=f"{defn.name} at party {party}"),
                    inputs=dict((inputs or {}).get(party, {})),
                    input_models=dict((input_models or {}).get(party, {})),
                    limits=(limits or {}).get(party, DisclosureLimits()),
                    recv_timeout_s=recv_timeout_s,
                    metric_sink=lambda n, v, s, _m=metrics: _m.append((n, v, s)),  # type: ignore[misc]
                    progress_sink=progress.append,
                )
            )

    def target(ctx: TaskContext) -> None:
        try:
            run.results[ctx.party_id] = defn.roles[ctx.role](ctx)
        except BaseException as exc:
            run.errors[ctx.party_id] = exc
        finally:
            ctx.compute.close()

    threads = [
        threading.Thread(target=target, args=(c,), daemon=True, name=f"party-{c.party_id}") for c in contexts
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout_s)
        if t.is_alive():
            raise TimeoutError(f"{t.name} still running {defn.name} after {timeout_s:.0f}s")
    return run
