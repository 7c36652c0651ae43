"""evaluation: lift and threshold curves, multiclass accuracy/macro F1 and regression metrics vs scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    mean_absolute_error,
    mean_squared_error,
    precision_score,
    r2_score,
    recall_score,
)

from silobridge.table import Table
from silobridge.testing import run_component

RNG = np.random.default_rng(7)


def _table(features: np.ndarray, names: list[str], label: np.ndarray) -> Table:
    return Table(
        ids=[f"r{i}" for i in range(len(label))], features=features, feature_names=names, label=label
    )


def test_binary_lift_and_precision_recall_curves() -> None:
    y = (RNG.random(400) < 0.3).astype(float)
    score = np.clip(0.3 * y + RNG.random(400) * 0.7, 0, 1)
    run = run_component(
        "evaluation", {"guest": [1]}, inputs={1: {"data": _table(score[:, None], ["score"], y)}}
    )
    run.raise_any()
    top = np.argsort(-score)[:40]
    assert run.result(1).summary["lift_10"] == pytest.approx(y[top].mean() / y.mean())
    curves = {
        name: {step: v for n, v, step in run.metrics[1] if n == name}
        for name in ("precision_at_threshold", "recall_at_threshold", "fpr_at_threshold", "threshold")
    }
    assert len(curves["threshold"]) == 9
    for step, t in curves["threshold"].items():
        pred = score >= t
        assert curves["precision_at_threshold"][step] == pytest.approx(
            precision_score(y, pred, zero_division=0)
        )
        assert curves["recall_at_threshold"][step] == pytest.approx(recall_score(y, pred))
        assert curves["fpr_at_threshold"][step] == pytest.approx(pred[y == 0].mean())


def test_multiclass_accuracy_and_macro_f1() -> None:
    y = RNG.integers(0, 3, 300).astype(float)
    scores = RNG.random((300, 3))
    scores[np.arange(300), y.astype(int)] += 0.4
    names = ["score_0", "score_1", "score_2"]
    run = run_component(
        "evaluation",
        {"guest": [1]},
        inputs={1: {"data": _table(scores, names, y)}},
        params={"task": "multiclass"},
    )
    run.raise_any()
    s, pred = run.result(1).summary, scores.argmax(axis=1)
    assert s["accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert s["macro_f1"] == pytest.approx(f1_score(y, pred, average="macro"))


def test_regression_rmse_mae_r2() -> None:
    y = RNG.normal(size=200)
    pred = y + RNG.normal(scale=0.3, size=200)
    run = run_component(
        "evaluation",
        {"guest": [1]},
        inputs={1: {"data": _table(pred[:, None], ["score"], y)}},
        params={"task": "regression"},
    )
    run.raise_any()
    s = run.result(1).summary
    assert s["rmse"] == pytest.approx(np.sqrt(mean_squared_error(y, pred)))
    assert s["mae"] == pytest.approx(mean_absolute_error(y, pred))
    assert s["r2"] == pytest.approx(r2_score(y, pred))


def test_multiclass_needs_integer_labels_in_range() -> None:
    y = np.full(50, 5.0)
    run = run_component(
        "evaluation",
        {"guest": [1]},
        inputs={1: {"data": _table(RNG.random((50, 2)), ["score_0", "score_1"], y)}},
        params={"task": "multiclass"},
    )
    assert "multiclass labels must be integers in [0, 2)" in str(run.errors[1])
