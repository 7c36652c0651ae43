"""Logistic (binary) and softmax (multiclass) regression: losses, gradients, scores.

Weights include the intercept as their last row: ``X`` here always carries a trailing column
of ones (:func:`with_intercept`). Binary models have weights of shape ``(d + 1,)``, multiclass
models ``(d + 1, classes)``.
"""

from __future__ import annotations

import numpy as np

_EPS = 1e-12


def with_intercept(X: np.ndarray) -> np.ndarray:
    return np.hstack([np.asarray(X, dtype=np.float64), np.ones((len(X), 1))])


def zeros(features: int, classes: int) -> np.ndarray:
    return np.zeros(features + 1) if classes == 2 else np.zeros((features + 1, classes))


def sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * z)))


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def probabilities(X: np.ndarray, w: np.ndarray) -> np.ndarray:
    """P(y = 1) per row for a binary model, P(y = k) per row and class for a multiclass one."""
    z = X @ w
    return sigmoid(z) if w.ndim == 1 else softmax(z)


def loss(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    """Mean cross-entropy (no penalty)."""
    if len(y) == 0:
        return 0.0
    p = probabilities(X, w)
    if w.ndim == 1:
        return float(-np.mean(y * np.log(p + _EPS) + (1 - y) * np.log(1 - p + _EPS)))
    return float(-np.mean(np.log(p[np.arange(len(y)), y.astype(np.int64)] + _EPS)))


def gradient(
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    *,
    alpha: float = 0.0,
    mu: float = 0.0,
    anchor: np.ndarray | None = None,
) -> np.ndarray:
    """Gradient of mean cross-entropy + alpha/2 |w|^2 (not the intercept) + mu/2 |w - anchor|^2.

    The last term is FedProx's proximal term around the global model ``anchor``.
    """
    p = probabilities(X, w)
    if w.ndim == 1:
        residual = p - y
    else:
        residual = p.copy()
        residual[np.arange(len(y)), y.astype(np.int64)] -= 1.0
    g = X.T @ residual / max(len(y), 1)
    if alpha:
        g[:-1] += alpha * w[:-1]
    if mu and anchor is not None:
        g += mu * (w - anchor)
    return np.asarray(g)
