"""Quantile binning of one party's own columns: edges stay with the party that computed them.

A column with at most ``max_bins`` distinct values gets one bin per value (edges at the midpoints
between them); otherwise the edges are ``max_bins - 1`` quantiles of the non-missing values
(duplicates dropped), which is how scikit-learn's ``HistGradientBoosting`` bins. A value ``x`` falls
in bin ``searchsorted(edges, x)``, i.e. ``x <= edges[b]`` for every bin ``b`` it is at or left of.
Missing values (NaN) get the extra bin ``len(edges) + 1``.
"""

from __future__ import annotations

import numpy as np

from silobridge.errors import InvalidInput

MAX_BINS = 255


def bin_edges(column: np.ndarray, max_bins: int) -> np.ndarray:
    """Upper edges of the value bins of one column (``len(edges) + 1`` value bins)."""
    if not 2 <= max_bins <= MAX_BINS:
        raise InvalidInput(f"max_bins must be in [2, {MAX_BINS}], got {max_bins}")
    values = np.asarray(column, dtype=np.float64)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return np.empty(0)
    distinct = np.unique(values)
    if distinct.size <= max_bins:
        return np.asarray((distinct[:-1] + distinct[1:]) / 2.0, dtype=np.float64)
    percentiles = np.linspace(0, 100, max_bins + 1)[1:-1]
    edges = np.unique(np.percentile(values, percentiles, method="midpoint"))
    return np.asarray(
        edges[edges < distinct[-1]], dtype=np.float64
    )  # an edge at the maximum would leave its right bin empty


def assign_bins(column: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin index per row: ``0 .. len(edges)`` for values, ``len(edges) + 1`` for NaN."""
    values = np.asarray(column, dtype=np.float64)
    out = np.searchsorted(edges, values, side="left").astype(np.int32)
    out[np.isnan(values)] = len(edges) + 1
    return out


def fit_bins(X: np.ndarray, max_bins: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Edges per column and the (rows, columns) bin matrix of ``X``."""
    edges = [bin_edges(X[:, j], max_bins) for j in range(X.shape[1])]
    binned = np.empty(X.shape, dtype=np.int32)
    for j, e in enumerate(edges):
        binned[:, j] = assign_bins(X[:, j], e)
    return edges, binned
