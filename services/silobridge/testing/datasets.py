"""Vertical splits of a feature matrix for component tests and benchmarks."""

from __future__ import annotations

import numpy as np

from silobridge.table import Table


def vertical_split(
    X: np.ndarray, y: np.ndarray, guest_cols: int, *, id_prefix: str = "c"
) -> tuple[Table, Table]:
    """(guest table with label and the first ``guest_cols`` columns, host table with the rest)."""
    ids = np.array([f"{id_prefix}{i:06d}" for i in range(len(y))])
    guest = Table(
        ids=ids,
        features=X[:, :guest_cols].copy(),
        feature_names=[f"g{i}" for i in range(guest_cols)],
        label=y.copy(),
    )
    host_cols = X.shape[1] - guest_cols
    host = Table(
        ids=ids, features=X[:, guest_cols:].copy(), feature_names=[f"h{i}" for i in range(host_cols)]
    )
    return guest, host
