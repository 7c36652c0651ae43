"""AUC, KS and the confusion-matrix rates agree with scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from silobridge.errors import InvalidInput
from silobridge.ml import metrics


@pytest.mark.parametrize("ties", [False, True])
def test_auc_and_ks_match_sklearn(ties: bool) -> None:
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 500).astype(float)
    score = rng.normal(size=500) + y
    if ties:
        score = np.round(score, 1)
    assert metrics.auc(y, score) == pytest.approx(skm.roc_auc_score(y, score), abs=1e-12)
    fpr, tpr, _ = skm.roc_curve(y, score, drop_intermediate=False)
    assert metrics.ks(y, score) == pytest.approx(float(np.max(tpr - fpr)), abs=1e-12)


def test_confusion_rates_match_sklearn() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 300).astype(float)
    score = np.clip(rng.normal(0.5, 0.3, 300) + 0.2 * y, 0, 1)
    cm = metrics.confusion(y, score, 0.5)
    pred = (score >= 0.5).astype(float)
    assert [[cm.tn, cm.fp], [cm.fn, cm.tp]] == skm.confusion_matrix(y, pred).tolist()
    assert cm.accuracy == pytest.approx(skm.accuracy_score(y, pred))
    assert cm.precision == pytest.approx(skm.precision_score(y, pred))
    assert cm.recall == pytest.approx(skm.recall_score(y, pred))
    assert cm.f1 == pytest.approx(skm.f1_score(y, pred))


def test_auc_needs_both_classes() -> None:
    with pytest.raises(InvalidInput, match="both classes"):
        metrics.auc(np.ones(5), np.arange(5.0))
