"""``evaluation`` (guest only): binary, multiclass or regression metrics of a scored table.

The input is the guest's ``predictions`` table (label + a ``score`` column), so nothing crosses
a party boundary. The scores are computed from the hosts' rows, so the metrics are refused over
fewer rows than the guest's minimum aggregation size *k*.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from silobridge.components.registry import ComponentDef, Params, TaskResult, register
from silobridge.errors import ComponentError
from silobridge.federation.context import TaskContext
from silobridge.ml import metrics
from silobridge.ml.checks import binary_label, min_rows
from silobridge.table import Table


class EvaluationParams(Params):
    task: Literal["binary", "multiclass", "regression"] = Field(
        "binary",
        description="binary (score = probability), multiclass (columns score_0..score_K-1) or regression "
        "(score = the prediction)",
    )
    threshold: float = Field(0.5, ge=0.0, le=1.0, description="score at or above which a row is positive")
    score_column: str = Field("score", description="feature column holding the predicted probability")
    thresholds: list[float] = Field(
        default_factory=lambda: [round(0.1 * i, 1) for i in range(1, 10)],
        max_length=101,
        description="binary: thresholds of the precision and recall curves stored as metrics",
    )


def _multiclass(ctx: TaskContext, table: Table) -> TaskResult:
    if table.label is None:
        raise ComponentError(f"missing label column in the evaluated table at party {ctx.party_id}")
    columns = [i for i, n in enumerate(table.feature_names) if n.startswith("score_")]
    if len(columns) < 2:
        raise ComponentError("multiclass evaluation needs the columns score_0 .. score_K-1")
    classes = len(columns)
    y = table.label
    if not np.all((y == np.round(y)) & (y >= 0) & (y < classes)):
        raise ComponentError(f"multiclass labels must be integers in [0, {classes})")
    predicted = np.argmax(table.features[:, columns], axis=1)
    summary = {**metrics.multiclass(y, predicted, classes), "rows": float(table.rows)}
    return _report(ctx, summary, ("accuracy", "macro_f1"))


def _regression(ctx: TaskContext, table: Table, score: np.ndarray) -> TaskResult:
    if table.label is None:
        raise ComponentError(f"missing label column in the evaluated table at party {ctx.party_id}")
    summary = {**metrics.regression(table.label, score), "rows": float(table.rows)}
    return _report(ctx, summary, ("rmse", "mae", "r2"))


def _report(ctx: TaskContext, summary: dict[str, float], logged: tuple[str, ...]) -> TaskResult:
    for name in logged:
        ctx.log_metric(name, summary[name])
    ctx.progress(1.0)
    return TaskResult(summary=summary)


def _score(ctx: TaskContext, table: Table) -> np.ndarray:
    column = ctx.param("score_column", "score")
    if column not in table.feature_names:
        raise ComponentError(f"missing score column {column!r} in the input table at party {ctx.party_id}")
    score = table.features[:, table.feature_names.index(column)]
    if not np.all(np.isfinite(score)):
        raise ComponentError(f"score column {column!r} has NaN or infinite values")
    return score


def _guest(ctx: TaskContext) -> TaskResult:
    table = ctx.input("data")
    min_rows(ctx, table.rows, "evaluation metrics")
    task = str(ctx.param("task", "binary"))
    if task == "multiclass":
        return _multiclass(ctx, table)
    score = _score(ctx, table)
    if task == "regression":
        return _regression(ctx, table, score)
    y = binary_label(table, ctx)
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
        "lift_10": metrics.lift(y, score, 0.1),
    }
    for name in ("auc", "ks", "accuracy", "precision", "recall", "f1", "lift_10"):
        ctx.log_metric(name, summary[name])
    for step, t in enumerate(ctx.param("thresholds") or []):  # curves for the board, one point per step
        at = metrics.confusion(y, score, float(t))
        ctx.log_metric("threshold", float(t), step)
        ctx.log_metric("precision_at_threshold", at.precision, step)
        ctx.log_metric("recall_at_threshold", at.recall, step)
        ctx.log_metric("fpr_at_threshold", at.fp / (at.fp + at.tn) if at.fp + at.tn else 0.0, step)
    ctx.progress(1.0)
    model = {"confusion_matrix": np.array([[cm.tn, cm.fp], [cm.fn, cm.tp]], dtype=np.int64)}
    return TaskResult(model=model, summary=summary)


COMPONENT = register(
    ComponentDef(
        name="evaluation",
        roles={"guest": _guest},
        params=EvaluationParams,
        outputs=("model",),
        description="Binary (AUC, KS, lift, precision/recall curves, F1, confusion matrix), multiclass "
        "(accuracy, macro F1) or regression (RMSE, MAE, R²) metrics of a scored table.",
    )
)
