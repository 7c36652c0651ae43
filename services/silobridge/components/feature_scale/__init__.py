"""``feature_scale``: standard or min-max scaling of each party's own columns; nothing crosses.

The fitted scaler is the party's model; ``predict`` applies it (input model ``scale``).
"""

from __future__ import annotations

from silobridge.components.feature_scale.local import ScaleParams, fit
from silobridge.components.registry import ComponentDef, register
from silobridge.ml.protocol import guarded

COMPONENT = register(
    ComponentDef(
        name="feature_scale",
        roles={"guest": guarded(fit), "host": guarded(fit)},
        params=ScaleParams,
        outputs=("model", "data"),
        description="Standard or min-max scaling, each party on its own columns.",
    )
)

__all__ = ["COMPONENT", "ScaleParams"]
