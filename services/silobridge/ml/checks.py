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


FINGERPRINT_ROWS = 1 << 16  # ids fingerprinted at a time: 2 MiB of temporaries for 15-byte ids


def _fingerprints(ids: np.ndarray, a: int, b: int) -> np.ndarray:
    """A 64-bit mix of each id's UTF-8 bytes, for the rows ``a:b`` (equal ids, equal values)."""
    chunk = ids[a:b] if ids.dtype.kind == "S" else np.char.encode(np.asarray(ids[a:b], dtype=str), "utf-8")
    width = -(-max(chunk.dtype.itemsize, 1) // 8) * 8
    words = np.ascontiguousarray(chunk.astype(f"S{width}")).view("<u8").reshape(len(chunk), width // 8)
    h = np.full(len(chunk), 0x9E3779B97F4A7C15, dtype=np.uint64)
    for j in range(words.shape[1]):  # ``S`` pads with zero bytes, so the width does not change a value
        h ^= words[:, j]
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(31)
    return h


def unique_ids(ids: np.ndarray, ctx: TaskContext) -> None:
    """Refuse a table whose id column (``ids`` or ``Table.id_keys()``) repeats a value.

    Checked on sorted 8-byte fingerprints, not a sorted copy of the ids (15 bytes a row for
    15-character ids, more for longer ones); the few rows whose fingerprints collide are then
    compared by their ids, so the answer is exact."""
    n = len(ids)
    fps = np.empty(n, dtype=np.uint64)
    for a in range(0, n, FINGERPRINT_ROWS):
        fps[a : a + FINGERPRINT_ROWS] = _fingerprints(ids, a, min(n, a + FINGERPRINT_ROWS))
    fps.sort()
    same = np.unique(fps[1:][fps[1:] == fps[:-1]])
    del fps
    if len(same) == 0:
        return
    rows = np.concatenate(
        [
            a + np.nonzero(np.isin(_fingerprints(ids, a, min(n, a + FINGERPRINT_ROWS)), same))[0]
            for a in range(0, n, FINGERPRINT_ROWS)
        ]
    )
    ordered = np.sort(np.asarray(ids)[rows])
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
