"""What a deployed model computes for one id, per component and role.

``hetero_lr``: the guest scores ``sigmoid(x_g . w_g + b + sum of the hosts' partial scores)``, a
host answers ``x_h . w_h`` for an id of its online feature table (computed once, at deploy, with
the same product the batch ``predict`` uses). ``homo_lr`` / ``homo_nn``: the guest scores alone,
with the library's own ``probabilities``; no host takes part.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from silobridge.components import homo_predict
from silobridge.components.pipeline import names_of
from silobridge.errors import InvalidInput, NotFound
from silobridge.ml import metrics

SUPPORTED = ("hetero_lr", "homo_lr", "homo_nn")


def feature_vector(names: Sequence[str], features: Any) -> np.ndarray:
    """The request's features in the model's column order: a JSON object by name, or a list."""
    if isinstance(features, Mapping):
        missing = [n for n in names if n not in features]
        if missing:
            raise InvalidInput(f"features: missing {', '.join(missing[:5])} (the model needs {len(names)})")
        extra = sorted(set(features) - set(names))
        if extra:
            raise InvalidInput(f"features: unknown {', '.join(map(str, extra[:5]))}")
        values = [features[n] for n in names]
    elif isinstance(features, list):
        if len(features) != len(names):
            raise InvalidInput(f"features: {len(features)} values for a model of {len(names)} features")
        values = features
    else:
        raise InvalidInput("features: an object {name: value} or a list of numbers")
    try:
        x = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInput("features: every value must be a number") from None
    if not np.all(np.isfinite(x)):
        raise InvalidInput("features: every value must be finite")
    return x


@dataclass(frozen=True)
class GuestLR:
    """The guest's half of a hetero_lr model; with no hosts it is the whole model."""

    weights: np.ndarray
    intercept: float
    feature_names: list[str]

    @classmethod
    def from_model(cls, model: Any) -> GuestLR:
        if not isinstance(model, dict) or "weights" not in model or "intercept" not in model:
            raise InvalidInput("not a guest hetero_lr model (weights and intercept)")
        w = np.asarray(model["weights"], dtype=np.float64).ravel()
        names = names_of(model) or [f"x{i}" for i in range(len(w))]
        if len(names) != len(w):
            raise InvalidInput(f"model has {len(w)} weights but {len(names)} feature names")
        return cls(w, float(np.asarray(model["intercept"], dtype=np.float64).ravel()[0]), names)

    def score(self, x: np.ndarray, partials: Sequence[float]) -> float:
        z = x[None, :] @ self.weights + self.intercept
        for p in partials:
            z = z + p
        return float(metrics.sigmoid(z)[0])


@dataclass(frozen=True)
class HostLR:
    """A host's half of a hetero_lr model over its online feature table: id -> x_h . w_h."""

    partials: dict[str, float]
    feature_names: list[str]

    @classmethod
    def from_model(cls, model: Any, ids: np.ndarray, features: np.ndarray, names: list[str]) -> HostLR:
        if not isinstance(model, dict) or "weights" not in model or "intercept" in model:
            raise InvalidInput("not a host hetero_lr model (weights, no intercept)")
        w = np.asarray(model["weights"], dtype=np.float64).ravel()
        model_names = names_of(model)
        if model_names and model_names != list(names):
            raise InvalidInput(
                f"the feature table's columns differ from the model's ({len(names)} vs {len(model_names)} columns)"
            )
        if features.shape[1] != len(w):
            raise InvalidInput(
                f"model has {len(w)} weights but the feature table {features.shape[1]} columns"
            )
        partial = features @ w  # the product the batch predict sends (hetero_lr host.predict)
        return cls({str(i): float(p) for i, p in zip(ids, partial, strict=True)}, list(names))

    def lookup(self, ids: Sequence[str]) -> tuple[list[float], list[str]]:
        scores, missing = [], []
        for i in ids:
            p = self.partials.get(i)
            if p is None:
                missing.append(i)
                p = 0.0
            scores.append(p)
        return scores, missing


@dataclass(frozen=True)
class Homo:
    """A horizontal model scores at one party alone (no host)."""

    component: str
    model: dict[str, Any]
    feature_names: list[str]

    @classmethod
    def from_model(cls, model: Any, component: str) -> Homo:
        if homo_predict.component_of(model) != component:
            raise InvalidInput(f"not a {component} model")
        names = names_of(model)
        if not names:
            raise NotFound(f"the {component} model names no feature columns (deploy a client's model)")
        return cls(component, model, names)

    def score(self, x: np.ndarray) -> float | list[float]:
        if self.component == "homo_nn":
            from silobridge.components.homo_nn import predict as nn

            proba = nn.probabilities(self.model, x[None, :])
        else:
            from silobridge.components.homo_lr import predict as lr

            proba = lr.probabilities(self.model, x[None, :])
        row = [float(v) for v in np.asarray(proba)[0]]
        return row[1] if len(row) == 2 else row
