"""What a deployed model computes for one id, per component and role.

``hetero_lr``: the guest scores ``sigmoid(x_g . w_g + b + sum of the hosts' partial scores)``, a
host answers ``x_h . w_h`` for an id of its online feature table (computed once, at deploy, with
the same product the batch ``predict`` uses). ``hetero_secureboost``: a host answers, per id, the
leaves its own splits leave reachable in every tree (computed once, at deploy, with the batch
``hetero_secureboost_predict``'s code); the guest intersects them with its own and sums the leaf
values. ``homo_lr`` / ``homo_nn``: the guest scores alone, with the library's own
``probabilities``; no host takes part.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from silobridge.components import homo_predict
from silobridge.components.hetero_secureboost import guest as sbt_guest
from silobridge.components.hetero_secureboost import host as sbt_host
from silobridge.components.hetero_secureboost.common import bool_array
from silobridge.components.pipeline import names_of
from silobridge.errors import ComponentError, IntegrityError, InvalidInput, NotFound
from silobridge.ml import boosting, metrics

SUPPORTED = ("hetero_lr", "hetero_secureboost", "homo_lr", "homo_nn")


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


def _columns_match(model: Any, names: list[str]) -> None:
    model_names = names_of(model)
    if model_names and model_names != list(names):
        raise InvalidInput(
            f"the feature table's columns differ from the model's ({len(names)} vs {len(model_names)} columns)"
        )


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
    reply_field = "partial_scores"

    @classmethod
    def from_model(cls, model: Any, ids: np.ndarray, features: np.ndarray, names: list[str]) -> HostLR:
        if not isinstance(model, dict) or "weights" not in model or "intercept" in model:
            raise InvalidInput("not a host hetero_lr model (weights, no intercept)")
        w = np.asarray(model["weights"], dtype=np.float64).ravel()
        _columns_match(model, names)
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
class GuestSBT:
    """The guest's trees of a hetero_secureboost model: its own splits, host nodes as (party, id)."""

    trees: list[sbt_guest.Tree]
    init: np.ndarray
    outputs: int
    objective: str
    party_id: int
    feature_names: list[str]
    leaves: int

    @classmethod
    def from_model(cls, model: Any, party_id: int) -> GuestSBT:
        try:
            trees, init, outputs, objective = sbt_guest.trees_from_model(model, party_id)
        except (ComponentError, KeyError):
            raise InvalidInput("not a guest hetero_secureboost model") from None
        names = names_of(model)
        if not names:
            raise InvalidInput("the hetero_secureboost model names no feature columns")
        leaves = sum(int(np.count_nonzero(np.asarray(t.left) < 0)) for t in trees)
        return cls(trees, init, outputs, objective, party_id, names, leaves)

    def score(self, x: np.ndarray, masks: Sequence[Any]) -> float | list[float]:
        combined = sbt_guest.own_reach(self.trees, x[None, :], self.party_id)
        for mask in masks:
            if not isinstance(mask, bytes):
                raise IntegrityError("a host answered a partial score for a hetero_secureboost model")
            host = bool_array(np.frombuffer(mask, dtype=np.uint8), "a host's leaf mask", self.leaves)
            combined &= host[None, :]
        leaves = sbt_guest.leaves_of(self.trees, combined)
        raw = sbt_guest.raw_scores(self.trees, self.outputs, self.init, leaves)
        row = boosting.outputs(self.objective, raw)[0]
        return [float(v) for v in row] if self.objective == "multiclass" else float(row[0])


@dataclass(frozen=True)
class HostSBT:
    """A host's splits of a hetero_secureboost model over its online feature table: per id, the
    leaves of every tree its own splits allow (packed bits, computed once at deploy)."""

    masks: np.ndarray  # (ids, packed bytes)
    row_of: dict[str, int]
    feature_names: list[str]
    reply_field = "leaf_masks"

    @classmethod
    def from_model(
        cls, model: Any, ids: np.ndarray, features: np.ndarray, names: list[str], party_id: int
    ) -> HostSBT:
        try:
            trees = sbt_host.host_trees(model, party_id)
        except (ComponentError, KeyError):
            raise InvalidInput("not a host hetero_secureboost model") from None
        _columns_match(model, names)
        if np.isinf(features).any():
            raise InvalidInput("the feature table holds infinite values (the batch predict refuses them too)")
        width = len(names)
        if any(col >= width for t in trees for col, *_ in t.splits.values()):
            raise InvalidInput(f"the model splits on columns the feature table's {width} do not have")
        packed = np.packbits(sbt_host.leaf_masks(trees, features), axis=1)
        return cls(packed, {str(i): k for k, i in enumerate(ids)}, list(names))

    def lookup(self, ids: Sequence[str]) -> tuple[list[bytes], list[str]]:
        masks, missing = [], []
        for i in ids:
            k = self.row_of.get(i)
            if k is None:
                missing.append(i)
                masks.append(b"")
            else:
                masks.append(self.masks[k].tobytes())
        return masks, missing


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
