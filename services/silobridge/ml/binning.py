"""Binning for feature engineering: quantile or equal-width edges, bins merged up to *k* rows, WOE/IV.

Edges come from :mod:`silobridge.ml.quantile` (quantile) or are equal-width over a column's
range (bucket). A column's raw bins are its value bins in order, then one bin for missing values
(NaN). :func:`merge_small` joins every bin of fewer than ``min_rows`` rows with its smaller
neighbour, so that no released per-bin aggregate covers fewer rows than a party's *k*.
"""

from __future__ import annotations

import numpy as np

from silobridge.errors import InvalidInput
from silobridge.ml.quantile import MAX_BINS, assign_bins, bin_edges


def bucket_edges(column: np.ndarray, bins: int) -> np.ndarray:
    """``bins - 1`` equal-width inner edges over the column's non-missing range."""
    if not 2 <= bins <= MAX_BINS:
        raise InvalidInput(f"bins must be in [2, {MAX_BINS}], got {bins}")
    values = np.asarray(column, dtype=np.float64)
    values = values[~np.isnan(values)]
    if values.size == 0 or float(values.min()) == float(values.max()):
        return np.empty(0)
    return np.linspace(float(values.min()), float(values.max()), bins + 1)[1:-1]


def edges_for(column: np.ndarray, method: str, bins: int) -> np.ndarray:
    if method == "quantile":
        return bin_edges(column, bins)
    if method == "bucket":
        return bucket_edges(column, bins)
    raise InvalidInput(f"unknown binning method {method!r}")


def merge_small(counts: np.ndarray, min_rows: int) -> np.ndarray:
    """Group of each raw bin after merging bins of fewer than ``min_rows`` rows with a neighbour.

    Empty raw bins (e.g. no missing values) join a neighbour too. The result numbers the groups
    ``0 .. g-1`` in raw-bin order; a column of fewer than ``min_rows`` rows ends as one group.
    """
    sizes = [int(c) for c in counts]
    members: list[list[int]] = [[i] for i in range(len(sizes))]
    while len(sizes) > 1:
        small = [i for i, s in enumerate(sizes) if s < min_rows or s == 0]
        if not small:
            break
        i = min(small, key=lambda j: (sizes[j], j))
        if i == 0:
            j = 1
        elif i == len(sizes) - 1:
            j = i - 1
        else:
            j = i - 1 if sizes[i - 1] <= sizes[i + 1] else i + 1
        lo, hi = min(i, j), max(i, j)
        sizes[lo : hi + 1] = [sizes[lo] + sizes[hi]]
        members[lo : hi + 1] = [members[lo] + members[hi]]
    groups = np.empty(len(counts), dtype=np.int64)
    for g, raw in enumerate(members):
        groups[raw] = g
    return groups


def column_groups(column: np.ndarray, edges: np.ndarray, min_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """(raw bin -> group map, group per row) of one column with the given edges."""
    raw = assign_bins(column, edges)
    counts = np.bincount(raw, minlength=len(edges) + 2)
    mapping = merge_small(counts, min_rows)
    return mapping, mapping[raw]


def woe_iv(events: np.ndarray, counts: np.ndarray, adjustment: float) -> tuple[np.ndarray, float]:
    """WOE per bin and the column's IV from per-bin event and row counts.

    A bin without events or without non-events uses ``events + adjustment`` and
    ``non_events + adjustment`` so that its WOE stays finite (FATE's adjustment factor).
    """
    e = np.asarray(events, dtype=np.float64)
    ne = np.asarray(counts, dtype=np.float64) - e
    total_e, total_ne = float(e.sum()), float(ne.sum())
    if total_e == 0 or total_ne == 0:
        raise InvalidInput("WOE/IV needs both classes in the label column")
    edge_case = (e == 0) | (ne == 0)
    e_rate = np.where(edge_case, e + adjustment, e) / total_e
    ne_rate = np.where(edge_case, ne + adjustment, ne) / total_ne
    woe = np.log(e_rate / ne_rate)
    return woe, float(np.sum((e_rate - ne_rate) * woe))
