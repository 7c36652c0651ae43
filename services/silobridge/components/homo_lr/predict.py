"""Scoring rows with an exported homo-LR model (what the standard ``predict`` runs for it).

The exported model splits the trained ``w`` into ``weights`` and ``intercept`` (see
:func:`silobridge.components.homo_lr.guest.export`); putting them back together and scoring
through :mod:`silobridge.ml.logistic` is the same arithmetic as the training task's predictions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from silobridge.components.homo_lr.common import weight_shape
from silobridge.errors import ComponentError
from silobridge.ml import logistic


def classes_of(model: dict[str, Any], component: str) -> int:
    classes = np.asarray(model.get("classes", []), dtype=np.int64).ravel()
    if classes.shape != (1,) or classes[0] < 2:
        raise ComponentError(f"the {component} model has no valid class count (classes: {classes.tolist()})")
    return int(classes[0])


def probabilities(model: dict[str, Any], features: np.ndarray) -> np.ndarray:
    """P(y = k) per row and class (rows x classes, also for a binary model)."""
    classes = classes_of(model, "homo_lr")
    d = features.shape[1]
    weights = np.asarray(model.get("weights"), dtype=np.float64)
    intercept = np.asarray(model.get("intercept"), dtype=np.float64).ravel()
    shape = weight_shape(d, classes)
    expected = ((d,), (1,)) if classes == 2 else ((d, classes), (classes,))
    if (weights.shape, intercept.shape) != expected:
        raise ComponentError(
            f"the homo_lr model does not fit the input table: weights {weights.shape} and intercept "
            f"{intercept.shape}, where {d} feature columns and {classes} classes need "
            f"{expected[0]} and {expected[1]}"
        )
    if not (np.all(np.isfinite(weights)) and np.all(np.isfinite(intercept))):
        raise ComponentError("the homo_lr model has NaN or infinite weights")
    w = np.concatenate([weights, intercept[None, :] if classes > 2 else intercept]).reshape(shape)
    p = logistic.probabilities(logistic.with_intercept(features), w)
    return np.c_[1.0 - p, p] if classes == 2 else p
