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


def horizontal_split(
    X: np.ndarray, y: np.ndarray, parts: int, *, seed: int = 0, id_prefix: str = "c"
) -> list[Table]:
    """``parts`` tables with every column and the label, rows shuffled and stratified by label."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"{id_prefix}{i:06d}" for i in range(len(y))])
    buckets: list[list[int]] = [[] for _ in range(parts)]
    offset = 0
    for c in np.unique(y):  # deal each class's shuffled rows round-robin
        for k, row in enumerate(rng.permutation(np.nonzero(y == c)[0])):
            buckets[(k + offset) % parts].append(int(row))
        offset += int(np.sum(y == c))
    names = [f"x{j}" for j in range(X.shape[1])]
    tables = []
    for rows in buckets:
        idx = rng.permutation(np.asarray(rows, dtype=np.int64))
        tables.append(Table(ids=ids[idx], features=X[idx].copy(), feature_names=names, label=y[idx].copy()))
    return tables


def synthetic(rows: int, features: int, seed: int = 42) -> tuple[np.ndarray, np.ndarray]:
    """A binary classification table: half the columns informative, a quarter redundant."""
    from sklearn.datasets import make_classification

    x, y = make_classification(
        n_samples=rows,
        n_features=features,
        n_informative=features // 2,
        n_redundant=features // 4,
        random_state=seed,
    )
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
