"""``column_stats``: a federated column statistic; only aggregates cross parties.

Every data party computes its row count and per-column means; hosts send those aggregates
(never rows) to the guest, which reports how many columns and rows the federation holds. A host
refuses to send means of fewer rows than its minimum aggregation size *k*: the "mean" of one row
is that row.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from silobridge.components.registry import ComponentDef, Params, TaskResult, register
from silobridge.federation.context import TaskContext
from silobridge.ml.checks import min_rows
from silobridge.ml.protocol import guarded, recv_all_checked


class ColumnStatsParams(Params):
    pass


def _aggregates(ctx: TaskContext) -> dict[str, Any]:
    table = ctx.input("data")
    return {"rows": table.rows, "means": table.features.mean(axis=0), "columns": len(table.feature_names)}


def _host(ctx: TaskContext) -> TaskResult:
    min_rows(ctx, ctx.input("data").rows, f"column statistics of host {ctx.party_id}")
    agg = _aggregates(ctx)
    ctx.send("guest", "column_stats", agg, tag="stats")
    return TaskResult(summary={"rows": float(agg["rows"])})


def _guest(ctx: TaskContext) -> TaskResult:
    own = _aggregates(ctx)
    hosts: list[dict[str, Any]] = recv_all_checked(ctx, "host", "column_stats", "stats")
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
        roles={"guest": guarded(_guest), "host": guarded(_host)},
        params=ColumnStatsParams,
        outputs=("model",),
        description="Per-party row counts and column means, aggregated at the guest.",
    )
)
