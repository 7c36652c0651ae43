"""The standard ``predict`` for horizontal models (``homo_lr``, ``homo_nn``): one party scores its
own rows with the global model it holds, so nothing crosses a party boundary.

The guest's ``predict`` hands a model here when it is a homo one: ``parameters`` marks a
``homo_nn`` model, ``classes`` a ``homo_lr`` one (a ``hetero_lr`` model has neither). The
predictions table has the training task's shape (``score``, or ``score_<k>`` and ``predicted``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from silobridge.components.homo_lr import predict as homo_lr_predict
from silobridge.components.homo_lr.common import predictions_table
from silobridge.components.homo_nn import predict as homo_nn_predict
from silobridge.components.pipeline import names_of
from silobridge.components.registry import TaskResult
from silobridge.errors import ComponentError
from silobridge.federation.context import TaskContext
from silobridge.ml import metrics
from silobridge.table import Table


def component_of(model: Any) -> str | None:
    """``homo_nn``, ``homo_lr``, or None for any other model."""
    if not isinstance(model, dict):
        return None
    if "parameters" in model:
        return "homo_nn"
    if "classes" in model:
        return "homo_lr"
    return None


def predict(ctx: TaskContext, table: Table, model: dict[str, Any], component: str) -> TaskResult:
    if ctx.parties_of("host"):
        raise ComponentError(
            f"a {component} model scores one party's own rows: run predict with party {ctx.party_id} "
            "as the only guest and no hosts"
        )
    _check_columns(ctx, model, table, component)
    score = homo_nn_predict.probabilities if component == "homo_nn" else homo_lr_predict.probabilities
    proba = score(model, table.features)
    summary = {"rows": float(table.rows)}
    y = table.label
    classes = proba.shape[1]
    if y is not None and np.all((y == np.round(y)) & (y >= 0) & (y < classes)):
        summary["accuracy"] = float(np.mean(np.argmax(proba, axis=1) == y))
        if classes == 2 and y.min() != y.max():
            summary["auc"] = metrics.auc(y, proba[:, 1])
    return TaskResult(tables={"predictions": predictions_table(table, proba)}, summary=summary)


def _check_columns(ctx: TaskContext, model: dict[str, Any], table: Table, component: str) -> None:
    """The model's columns (a client's model names them; the arbiter's does not) must be the table's."""
    names = names_of(model)
    if not names or names == list(table.feature_names):
        return
    first = next(
        (i for i, (a, b) in enumerate(zip(names, table.feature_names, strict=False)) if a != b),
        min(len(names), len(table.feature_names)),
    )
    theirs = names[first] if first < len(names) else "(none)"
    ours = table.feature_names[first] if first < len(table.feature_names) else "(none)"
    counts = f"{len(table.feature_names)} columns vs the model's {len(names)}"
    raise ComponentError(
        f"the input table's feature columns at party {ctx.party_id} differ from the {component} "
        f"model's: {counts}; column {first} is {ours!r} in the table, {theirs!r} in the model",
        public_message=f"the input table's feature columns at party {ctx.party_id} differ from "
        f"the {component} model's ({counts})",
    )
