"""``column_stats``: a federated column statistic; only aggregates cross parties.

Every data party computes its row count and per-column means; hosts send those aggregates
(never rows) to the guest, which reports how many columns and rows the federation holds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from silobridge.components.registry import ComponentDef, Params, TaskResult, register
from silobridge.federation.context import TaskContext


class ColumnStatsParams(Params):
    pass


def _aggregates(ctx: TaskContext) -> dict[str, Any]:
    table = ctx.input("data")
    return {"rows": table.rows, "means": table.features.mean(axis=0), "columns": len(table.feature_names)}


def _host(ctx: TaskContext) -> TaskResult:
    agg = _aggregates(ctx)
    ctx.send("guest", "column_stats", agg)
    return TaskResult(summary={"rows": float(agg["rows"])})


def _guest(ctx: TaskContext) -> TaskResult:
    own = _aggregates(ctx)
    hosts: list[dict[str, Any]] = ctx.recv_all("host", "column_stats")
    columns = int(own["columns"]) + sum(int(h["columns"]) for h in hosts)
    rows = [int(own["rows"])] + [int(h["rows"]) for h in hosts]
    means: np.ndarray = np.concatenate([own["means"], *(h["means"] for h in hosts)])
    ctx.log_metric("federated_columns", columns)
    return TaskResult(
        model={"column_means": means},
        summary={"columns": float(columns), "guest_rows": float(rows[0]), "host_rows": float(sum(rows[1:]))},
    )


COMPONENT = register(
    ComponentDef(
        name="column_stats",
        roles={"guest": _guest, "host": _host},
        params=ColumnStatsParams,
        outputs=("model",),
        description="Per-party row counts and column means, aggregated at the guest.",
    )
)
