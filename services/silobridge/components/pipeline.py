"""The fitted feature pipeline of one party (scale -> selection), applied to its own table.

``feature_scale`` and ``feature_selection`` fit on a party's own columns and keep their models at
that party; ``predict`` takes them as the optional input models ``scale`` and ``selection`` and
applies them, in that order, before the trained model scores the rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from silobridge.errors import ComponentError
from silobridge.federation.context import TaskContext
from silobridge.table import Table

T = TypeVar("T")


def names_of(model: dict[str, Any], key: str = "feature_names") -> list[str]:
    return [str(n) for n in np.asarray(model.get(key, []), dtype=str).ravel()]


def _model(ctx: TaskContext, name: str, component: str) -> dict[str, Any] | None:
    model = ctx.input_models.get(name)
    if model is None:
        return None
    if not isinstance(model, dict) or names_of(model, "component") != [component]:
        raise ComponentError(f"input model {name!r} at party {ctx.party_id} is not a {component} model")
    return model


def with_columns(table: Table, features: np.ndarray, names: list[str]) -> Table:
    return Table(
        ids=table.ids,
        features=features,
        feature_names=names,
        label=table.label,
        id_name=table.id_name,
        label_name=table.label_name,
    )


def scale(model: dict[str, Any], table: Table) -> Table:
    names = names_of(model)
    if names != list(table.feature_names):
        raise ComponentError("the table's feature columns differ from the scaler's")
    center = np.asarray(model["center"], dtype=np.float64)
    spread = np.asarray(model["scale"], dtype=np.float64)
    return with_columns(table, (table.features - center) / spread, names)


def select(model: dict[str, Any], table: Table) -> Table:
    if names_of(model) != list(table.feature_names):
        raise ComponentError("the table's feature columns differ from the ones the selection was fitted on")
    kept = names_of(model, "selected")
    idx = [table.feature_names.index(n) for n in kept]
    return with_columns(table, table.features[:, idx], kept)


def apply(ctx: TaskContext, table: Table) -> Table:
    """``table`` through this party's fitted ``scale`` then ``selection`` models, where given."""
    scaler = _model(ctx, "scale", "feature_scale")
    if scaler is not None:
        table = scale(scaler, table)
    selection = _model(ctx, "selection", "feature_selection")
    if selection is not None:
        table = select(selection, table)
    return table


def with_pipeline(fn: Callable[[TaskContext], T]) -> Callable[[TaskContext], T]:
    """A role function that sees its ``data`` input through the party's fitted pipeline."""

    def wrapper(ctx: TaskContext) -> T:
        if "data" in ctx.inputs:
            ctx.inputs["data"] = apply(ctx, ctx.inputs["data"])
        return fn(ctx)

    wrapper.__name__ = getattr(fn, "__name__", "predict")
    wrapper.__doc__ = fn.__doc__
    return wrapper
