"""``feature_selection``: each party keeps some of its own columns; nothing crosses.

By IV (``iv_threshold``, ``iv_top_k``: input model ``binning`` from ``hetero_binning``), by
variance or by missing rate. The result is the party's own list of kept column names, kept at
that party; ``predict`` applies it (input model ``selection``).
"""

from __future__ import annotations

from silobridge.components.feature_selection.local import SelectionParams, fit
from silobridge.components.registry import ComponentDef, register
from silobridge.ml.protocol import guarded

COMPONENT = register(
    ComponentDef(
        name="feature_selection",
        roles={"guest": guarded(fit), "host": guarded(fit)},
        params=SelectionParams,
        outputs=("model", "data"),
        description="Keep own columns by IV threshold, top-k IV, variance or missing rate.",
    )
)

__all__ = ["COMPONENT", "SelectionParams"]
