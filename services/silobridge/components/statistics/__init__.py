"""``statistics``: per-column statistics of each party's own columns (column_stats generalised).

Every party describes its own columns (count, missing, mean, std, skewness, min, max, quantiles)
and keeps that as its model. With ``share_with_guest``, a host also sends the guest its columns'
moments (count, missing rate, mean, std, skewness) without names, and never order statistics
(min, max and quantiles are values of single rows); a column of fewer than the host's *k*
non-missing rows is sent as NaN.
"""

from __future__ import annotations

from silobridge.components.registry import ComponentDef, register
from silobridge.components.statistics.roles import StatisticsParams, guest, host
from silobridge.ml.protocol import guarded

COMPONENT = register(
    ComponentDef(
        name="statistics",
        roles={"guest": guarded(guest), "host": guarded(host)},
        params=StatisticsParams,
        outputs=("model",),
        description="Count, missing, mean, std, skewness, min, max and quantiles of each party's own columns.",
    )
)

__all__ = ["COMPONENT", "StatisticsParams"]
