"""Gradient-boosting math on histograms: losses, split gains and leaf weights (XGBoost's second-order form).

Histograms are ``(count, G, H)`` arrays of shape ``(features, max_bins + 1)``: value bins
``0 .. nbins[j] - 1`` of feature ``j`` and its missing-value bin in the last column. A split at
bin ``b`` sends value bins ``<= b`` left and the missing bin to the side that gains more (learned
default direction). Gains use L1 (``alpha``, soft threshold) and L2 (``lam``) regularisation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from silobridge.errors import InvalidInput
from silobridge.ml.metrics import sigmoid

OBJECTIVES = ("binary", "multiclass", "regression")


@dataclass(frozen=True)
class SplitRules:
    lam: float = 0.0
    alpha: float = 0.0
    min_child_weight: float = 1e-3
    min_rows: int = 20
    min_gain: float = 0.0


@dataclass(frozen=True)
class Split:
    gain: float
    feature: int
    bin: int
    missing_left: bool
    left_rows: int
    right_rows: int


def _threshold(g: np.ndarray, alpha: float) -> np.ndarray:
    if alpha <= 0.0:
        return g
    return np.asarray(np.sign(g) * np.maximum(np.abs(g) - alpha, 0.0), dtype=np.float64)


def _score(g: np.ndarray, h: np.ndarray, rules: SplitRules) -> np.ndarray:
    t = _threshold(g, rules.alpha)
    with np.errstate(divide="ignore", invalid="ignore"):  # empty bins: masked out by the caller
        return np.where(h + rules.lam > 0.0, t * t / (h + rules.lam), 0.0)


def leaf_weight(g: float, h: float, rules: SplitRules) -> float:
    """``-T_alpha(G) / (H + lambda)``: the optimal leaf value before shrinkage."""
    if h + rules.lam <= 0.0:
        return 0.0
    return float(-_threshold(np.array([g]), rules.alpha)[0] / (h + rules.lam))


def best_split(stats: Sequence[np.ndarray], nbins: np.ndarray, rules: SplitRules) -> Split | None:
    """The best admissible split of one node over these features (``stats`` = count, G, H), or None."""
    count, grad, hess = stats
    if count.ndim != 2 or count.shape[0] == 0:
        return None
    features, width = count.shape
    values = width - 1
    c_tot, g_tot, h_tot = count.sum(axis=1), grad.sum(axis=1), hess.sum(axis=1)
    c_miss, g_miss, h_miss = count[:, -1], grad[:, -1], hess[:, -1]
    cum_c = np.cumsum(count[:, :values], axis=1)
    cum_g = np.cumsum(grad[:, :values], axis=1)
    cum_h = np.cumsum(hess[:, :values], axis=1)
    parent = _score(g_tot, h_tot, rules)[:, None]
    allowed = np.arange(values)[None, :] <= (np.asarray(nbins)[:, None] - 2)
    gains = np.full((2, features, values), -np.inf)
    rows_left = np.zeros((2, features, values), dtype=np.int64)
    for side, add in enumerate((0.0, 1.0)):  # 0: missing goes right, 1: missing goes left
        cl = cum_c + add * c_miss[:, None]
        gl = cum_g + add * g_miss[:, None]
        hl = cum_h + add * h_miss[:, None]
        cr, gr, hr = c_tot[:, None] - cl, g_tot[:, None] - gl, h_tot[:, None] - hl
        ok = (
            allowed
            & (cl >= rules.min_rows)
            & (cr >= rules.min_rows)
            & (hl >= rules.min_child_weight)
            & (hr >= rules.min_child_weight)
        )
        gain = 0.5 * (_score(gl, hl, rules) + _score(gr, hr, rules) - parent)
        gains[side] = np.where(ok, gain, -np.inf)
        rows_left[side] = np.rint(cl).astype(np.int64)
    # Without missing values both sides are the same split: keep the first (missing right) of the two.
    no_missing = (c_miss == 0)[:, None]
    gains[1] = np.where(no_missing, -np.inf, gains[1])
    flat = int(np.argmax(gains))
    side, feature, b = (int(i) for i in np.unravel_index(flat, gains.shape))
    gain = float(gains[side, feature, b])
    if not np.isfinite(gain) or gain <= rules.min_gain:
        return None
    left = int(rows_left[side, feature, b])
    right = round(float(c_tot[feature])) - left
    missing_left = bool(side == 1) or (bool(no_missing[feature, 0]) and left >= right)
    return Split(gain, int(feature), int(b), missing_left, left, right)


# --- losses -------------------------------------------------------------------------------------


def init_score(objective: str, y: np.ndarray, classes: int) -> np.ndarray:
    """Constant raw score before the first tree (one per class for multiclass)."""
    if objective == "binary":
        p = float(np.clip(np.mean(y), 1e-12, 1 - 1e-12))
        return np.array([np.log(p / (1 - p))])
    if objective == "regression":
        return np.array([float(np.mean(y))])
    if objective == "multiclass":
        prior = np.clip(np.bincount(y.astype(np.int64), minlength=classes) / len(y), 1e-12, None)
        logp = np.log(prior)
        return np.asarray(logp - logp.mean(), dtype=np.float64)
    raise InvalidInput(f"unknown objective {objective!r}: use one of {', '.join(OBJECTIVES)}")


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return np.asarray(e / e.sum(axis=1, keepdims=True), dtype=np.float64)


def gradients(objective: str, y: np.ndarray, raw: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(g, h)`` per tree of the round: one pair, or one per class for multiclass (raw: rows x outputs)."""
    if objective == "binary":
        p = sigmoid(raw[:, 0])
        return [(p - y, p * (1.0 - p))]
    if objective == "regression":
        return [(raw[:, 0] - y, np.ones(len(y)))]
    p = softmax(raw)
    onehot = np.eye(raw.shape[1])[y.astype(np.int64)]
    return [(p[:, k] - onehot[:, k], p[:, k] * (1.0 - p[:, k])) for k in range(raw.shape[1])]


def gradient_bounds(objective: str, g: np.ndarray) -> list[tuple[float, float]]:
    """Packing bounds of ``(g, h)``: fixed for the classification losses, the observed range for L2."""
    if objective == "regression":
        lo, hi = float(np.min(g)), float(np.max(g))
        return [(lo, max(hi, lo)), (1.0, 1.0)]
    return [(-1.0, 1.0), (0.0, 0.25)]


def loss(objective: str, y: np.ndarray, raw: np.ndarray) -> float:
    """Mean training loss: log loss, cross-entropy or half squared error."""
    if objective == "binary":
        z = raw[:, 0]
        return float(np.mean(np.logaddexp(0.0, z) - y * z))
    if objective == "regression":
        return float(0.5 * np.mean((raw[:, 0] - y) ** 2))
    p = softmax(raw)
    return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y.astype(np.int64)], 1e-300, None))))


def outputs(objective: str, raw: np.ndarray) -> np.ndarray:
    """Predictions from raw scores: P(y=1), class probabilities, or the regression value."""
    if objective == "binary":
        return sigmoid(raw[:, 0])[:, None]
    if objective == "multiclass":
        return softmax(raw)
    return raw[:, :1].copy()
