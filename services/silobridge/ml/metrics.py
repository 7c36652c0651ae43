"""Binary-classification metrics in numpy (AUC, KS, confusion-matrix rates)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from silobridge.errors import InvalidInput


def _check(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=np.float64).ravel()
    score = np.asarray(score, dtype=np.float64).ravel()
    if y.shape != score.shape:
        raise InvalidInput(f"{len(y)} labels but {len(score)} scores")
    if not np.all((y == 0) | (y == 1)):
        raise InvalidInput("labels must be 0 or 1 for binary metrics")
    if not np.all(np.isfinite(score)):
        raise InvalidInput("scores contain NaN or infinite values")
    return y, score


def roc_curve(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds), one point per distinct score, from the highest score down."""
    y, score = _check(y, score)
    order = np.argsort(-score, kind="mergesort")
    s, t = score[order], y[order]
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1] if len(s) else np.array([], dtype=np.int64)
    tps = np.cumsum(t)[last]
    fps = (last + 1) - tps
    pos, neg = t.sum(), len(t) - t.sum()
    tpr = np.r_[0.0, tps / pos] if pos else np.full(len(tps) + 1, np.nan)
    fpr = np.r_[0.0, fps / neg] if neg else np.full(len(fps) + 1, np.nan)
    return fpr, tpr, np.r_[np.inf, s[last]]


def auc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney with average ranks for ties)."""
    y, score = _check(y, score)
    pos = int(y.sum())
    neg = len(y) - pos
    if pos == 0 or neg == 0:
        raise InvalidInput("AUC needs both classes in the labels")
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(len(score), dtype=np.float64)
    sorted_scores = score[order]
    # average rank over ties
    starts = np.r_[0, np.nonzero(np.diff(sorted_scores))[0] + 1]
    ends = np.r_[starts[1:], len(score)]
    avg = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(avg, ends - starts)
    return float((ranks[y == 1].sum() - pos * (pos + 1) / 2.0) / (pos * neg))


def ks(y: np.ndarray, score: np.ndarray) -> float:
    """Kolmogorov-Smirnov statistic: max over thresholds of TPR - FPR."""
    fpr, tpr, _ = roc_curve(y, score)
    if np.isnan(fpr).any() or np.isnan(tpr).any():
        raise InvalidInput("KS needs both classes in the labels")
    return float(np.max(tpr - fpr))


@dataclass(frozen=True)
class Confusion:
    tp: int
    fp: int
    tn: int
    fn: int

    @property
    def accuracy(self) -> float:
        total = self.tp + self.fp + self.tn + self.fn
        return (self.tp + self.tn) / total if total else 0.0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def confusion(y: np.ndarray, score: np.ndarray, threshold: float = 0.5) -> Confusion:
    """Predict positive when ``score >= threshold``."""
    y, score = _check(y, score)
    pred = score >= threshold
    truth = y == 1
    return Confusion(
        tp=int(np.sum(pred & truth)),
        fp=int(np.sum(pred & ~truth)),
        tn=int(np.sum(~pred & ~truth)),
        fn=int(np.sum(~pred & truth)),
    )


def sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=np.float64))))


def lift(y: np.ndarray, score: np.ndarray, fraction: float = 0.1) -> float:
    """Event rate among the ``fraction`` highest scores over the overall event rate."""
    y, score = _check(y, score)
    top = max(1, int(np.ceil(fraction * len(y))))
    order = np.argsort(-score, kind="stable")[:top]
    return float(y[order].mean() / y.mean())


def multiclass(y: np.ndarray, predicted: np.ndarray, classes: int) -> dict[str, float]:
    """Accuracy and macro F1 (the mean of every class's F1; a class never seen nor predicted counts 0)."""
    y, predicted = np.asarray(y, dtype=np.int64), np.asarray(predicted, dtype=np.int64)
    f1 = []
    for c in range(classes):
        tp = float(np.sum((predicted == c) & (y == c)))
        fp = float(np.sum((predicted == c) & (y != c)))
        fn = float(np.sum((predicted != c) & (y == c)))
        f1.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return {"accuracy": float(np.mean(y == predicted)), "macro_f1": float(np.mean(f1))}


def regression(y: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """RMSE, MAE and R² (R² is 0 for a constant target predicted exactly, as scikit-learn's)."""
    err = np.asarray(predicted, dtype=np.float64) - np.asarray(y, dtype=np.float64)
    total = float(np.sum((y - np.mean(y)) ** 2))
    r2 = 1.0 - float(np.sum(err**2)) / total if total > 0 else 0.0
    return {"rmse": float(np.sqrt(np.mean(err**2))), "mae": float(np.mean(np.abs(err))), "r2": r2}
