"""Vertical and horizontal (stratified or label-skewed) splits of a feature matrix for component
tests, benchmarks and demos."""

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
    return _tables(X, y, ids, buckets, rng)


def label_skew_split(
    X: np.ndarray,
    y: np.ndarray,
    parts: int,
    *,
    alpha: float,
    seed: int = 0,
    min_rows: int = 10,
    id_prefix: str = "c",
) -> list[Table]:
    """``parts`` tables with every column and the label, but different label mixes (non-IID):
    each class's shuffled rows go to the clients in proportions drawn from Dirichlet(``alpha``).

    Small ``alpha`` (0.1) gives each client mostly one or two classes; large (100) is near the
    stratified split. Draws again from the same seeded stream until every client holds at least
    ``min_rows`` rows, so a seed always gives the same tables.
    """
    if alpha <= 0 or parts < 1 or min_rows * parts > len(y):
        raise ValueError(f"label_skew_split needs alpha > 0 and {parts} x {min_rows} rows at most {len(y)}")
    rng = np.random.default_rng(seed)
    ids = np.array([f"{id_prefix}{i:06d}" for i in range(len(y))])
    for _ in range(1_000):
        buckets: list[list[int]] = [[] for _ in range(parts)]
        for c in np.unique(y):
            rows = rng.permutation(np.nonzero(y == c)[0])
            cuts = np.floor(np.cumsum(rng.dirichlet(np.full(parts, alpha)))[:-1] * len(rows)).astype(int)
            for bucket, chunk in zip(buckets, np.split(rows, cuts), strict=True):
                bucket.extend(int(r) for r in chunk)
        if min(len(b) for b in buckets) >= min_rows:
            return _tables(X, y, ids, buckets, rng)
    raise ValueError(f"no Dirichlet({alpha}) draw in 1000 gives every one of {parts} clients {min_rows} rows")


def _tables(
    X: np.ndarray, y: np.ndarray, ids: np.ndarray, buckets: list[list[int]], rng: np.random.Generator
) -> list[Table]:
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
