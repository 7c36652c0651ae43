"""A party's fitted feature pipeline (``feature_scale`` then ``feature_selection``), online.

The batch predicts apply the party's own fitted scale and selection models to its rows before the
trained model scores them (:mod:`silobridge.components.pipeline`). Serving applies the same
functions: a host to its online feature table once at deploy, the guest to each request's
features, which then name the columns as the pipeline takes them (before scaling and selection).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from silobridge.components import pipeline
from silobridge.components.pipeline import names_of
from silobridge.errors import ComponentError, InvalidInput
from silobridge.table import Table

# deploy body field -> the component whose model it must be
STEPS = {"scale": "feature_scale", "selection": "feature_selection"}


@dataclass(frozen=True)
class Pipeline:
    scale: dict[str, Any] | None = None
    selection: dict[str, Any] | None = None

    @classmethod
    def from_models(cls, models: dict[str, Any]) -> Pipeline:
        for field, component in STEPS.items():
            model = models.get(field)
            if model is not None and (
                not isinstance(model, dict) or names_of(model, "component") != [component]
            ):
                raise InvalidInput(f"{field}: not a {component} model")
        return cls(models.get("scale"), models.get("selection"))

    def __bool__(self) -> bool:
        return self.scale is not None or self.selection is not None

    def input_names(self, model_names: list[str]) -> list[str]:
        """The columns the pipeline takes (the model's own when there is no pipeline)."""
        first = self.scale if self.scale is not None else self.selection
        return model_names if first is None else names_of(first)

    def apply(self, features: np.ndarray, names: list[str]) -> tuple[np.ndarray, list[str]]:
        """Rows through scale then selection, as the batch predicts do; refused on other columns."""
        table = Table(ids=np.arange(features.shape[0]).astype(str), features=features, feature_names=names)
        try:
            if self.scale is not None:
                table = pipeline.scale(self.scale, table)
            if self.selection is not None:
                table = pipeline.select(self.selection, table)
        except ComponentError as exc:
            raise InvalidInput(f"feature pipeline: {exc}") from None
        return table.features, list(table.feature_names)
