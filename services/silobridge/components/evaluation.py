"""``evaluation`` (guest only): binary-classification metrics of a scored table.

The input is the guest's ``predictions`` table (label + a ``score`` column), so nothing crosses
a party boundary. The scores are computed from the hosts' rows, so the metrics are refused over
fewer rows than the guest's minimum aggregation size *k*.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from silobridge.components.registry import ComponentDef, Params, TaskResult, register
from silobridge.errors import ComponentError
from silobridge.federation.context import TaskContext
from silobridge.ml import metrics
from silobridge.ml.checks import binary_label, min_rows


class EvaluationParams(Params):
    threshold: float = Field(0.5, ge=0.0, le=1.0, description="score at or above which a row is positive")
    score_column: str = Field("score", description="feature column holding the predicted probability")


def _guest(ctx: TaskContext) -> TaskResult:
    table = ctx.input("data")
    y = binary_label(table, ctx)
    min_rows(ctx, table.rows, "evaluation metrics")
    column = ctx.param("score_column", "score")
    if column not in table.feature_names:
        raise ComponentError(f"missing score column {column!r} in the input table at party {ctx.party_id}")
    score = table.features[:, table.feature_names.index(column)]
    if not np.all(np.isfinite(score)):
        raise ComponentError(f"score column {column!r} has NaN or infinite values")
    if y.min() == y.max():
        raise ComponentError("evaluation needs both classes in the label column")
    cm = metrics.confusion(y, score, float(ctx.param("threshold", 0.5)))
    summary = {
        "auc": metrics.auc(y, score),
        "ks": metrics.ks(y, score),
        "accuracy": cm.accuracy,
        "precision": cm.precision,
        "recall": cm.recall,
        "f1": cm.f1,
        "tp": float(cm.tp),
        "fp": float(cm.fp),
        "tn": float(cm.tn),
        "fn": float(cm.fn),
        "rows": float(table.rows),
    }
    for name in ("auc", "ks", "accuracy", "precision", "recall", "f1"):
        ctx.log_metric(name, summary[name])
    ctx.progress(1.0)
    model = {"confusion_matrix": np.array([[cm.tn, cm.fp], [cm.fn, cm.tp]], dtype=np.int64)}
    return TaskResult(model=model, summary=summary)


COMPONENT = register(
    ComponentDef(
        name="evaluation",
        roles={"guest": _guest},
        params=EvaluationParams,
        outputs=("model",),
        description="AUC, KS, accuracy, precision, recall, F1 and confusion matrix of a scored table.",
    )
)
