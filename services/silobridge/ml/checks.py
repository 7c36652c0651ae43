"""Input checks shared by the algorithms; errors name the problem, public messages name no data."""

from __future__ import annotations

import numpy as np

from silobridge.errors import ComponentError, DisclosureRefused
from silobridge.federation.context import TaskContext
from silobridge.table import Table


def finite_features(table: Table, ctx: TaskContext) -> None:
    bad = ~np.isfinite(table.features)
    if bad.any():
        col = int(np.nonzero(bad.any(axis=0))[0][0])
        rows = int(bad[:, col].sum())
        raise ComponentError(
            f"NaN or infinite value in feature column {table.feature_names[col]!r} "
            f"({rows} rows) at party {ctx.party_id}",
            public_message=f"NaN or infinite feature values at party {ctx.party_id} ({ctx.role})",
        )


def binary_label(table: Table, ctx: TaskContext) -> np.ndarray:
    if table.label is None:
        raise ComponentError(
            f"missing label column: the guest's input table at party {ctx.party_id} has no label"
        )
    y = table.label
    if not np.all((y == 0) | (y == 1)):
        raise ComponentError(
            f"label column at party {ctx.party_id} must hold only 0 and 1 for binary classification",
            public_message=f"label column at party {ctx.party_id} is not binary 0/1",
        )
    return y


def unique_ids(ids: np.ndarray, ctx: TaskContext) -> None:
    """Refuse a table whose id column (``ids`` or ``Table.id_keys()``) repeats a value."""
    ordered = np.sort(ids)  # one sorted copy: np.unique would make more
    if bool(np.any(ordered[1:] == ordered[:-1])):
        raise ComponentError(
            f"duplicate ids in the input table at party {ctx.party_id}",
            public_message=f"duplicate ids in the input table at party {ctx.party_id}",
        )


def min_rows(ctx: TaskContext, rows: int, what: str) -> None:
    """Refuse to release ``what`` when it covers fewer rows than this party's *k*."""
    k = ctx.limits.min_rows
    if rows < k:
        limit = f"the minimum aggregation size k={k} of party {ctx.party_id}"
        raise DisclosureRefused(
            f"{what} covers {rows} rows, fewer than {limit} (setting min_aggregation_rows; "
            "no job parameter lowers it)",
            # The count stays here: "0 or 1 shared ids" would answer a membership probe.
            public_message=f"{what} covers fewer rows than {limit}",
        )
