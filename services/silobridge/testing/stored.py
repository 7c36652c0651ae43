"""Running a component on a model as a party's model registry gives it back (encoded and decoded)."""

from __future__ import annotations

from typing import Any

from silobridge.federation import codec
from silobridge.table import Table
from silobridge.testing.runner import FederatedRun, run_component


def predict_alone(model: Any, table: Table, party: int) -> FederatedRun:
    """The standard ``predict`` at ``party`` alone (a horizontal model scoring its own rows)."""
    stored = codec.from_bytes(codec.to_bytes(model))
    return run_component(
        "predict",
        {"guest": [party]},
        inputs={party: {"data": table}},
        input_models={party: {"model": stored}},
    )
