"""Parameters of horizontal neural networks and what clients tell the arbiter."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import Field

from silobridge.components.homo_lr.common import TAIL, FedAvgParams
from silobridge.ml.nn import MLPSpec, ModelSpec
from silobridge.table import Table

SCHEMA_KEYS = {"features", "columns_sha256", "classes", "model_sha256", "parameters"}


class HomoNNParams(FedAvgParams):
    model: ModelSpec = Field(
        default_factory=lambda: MLPSpec.model_validate({}),
        description="the network: {kind: mlp, hidden: [...]}, {kind: layers, layers: [...]} or "
        "{kind: plugin, name: <entry point installed at every client>}",
    )
    loss: Literal["cross_entropy"] = Field("cross_entropy", description="training loss (allow-list)")
    optimizer: Literal["sgd", "adam", "adamw"] = Field(
        "adam", description="local update rule (state resets every round)"
    )
    learning_rate: float = Field(0.01, gt=0.0, description="initial local learning rate")
    momentum: float = Field(0.0, ge=0.0, lt=1.0, description="sgd momentum")
    weight_decay: float = Field(0.0, ge=0.0, description="L2 penalty of the optimizer")
    batch_size: Literal[-1] | int = Field(32, ge=-1, description="rows per local mini-batch; -1 = full batch")


def schema(table: Table, classes: int, model: dict[str, Any], parameters: int) -> dict[str, Any]:
    """Sizes and digests only: the arbiter checks every client built the same network."""
    columns = hashlib.sha256("\x1f".join(table.feature_names).encode()).hexdigest()
    spec = hashlib.sha256(json.dumps(model, sort_keys=True).encode()).hexdigest()
    return {
        "features": len(table.feature_names),
        "columns_sha256": columns,
        "classes": classes,
        "model_sha256": spec,
        "parameters": parameters,
    }


def vector_size(parameters: int) -> int:
    return parameters + TAIL
