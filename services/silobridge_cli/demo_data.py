"""Demo data: a dataset split vertically between a guest (label + some columns) and a host.

Each side keeps 10% of ids the other does not have, and the host's rows are shuffled, so PSI
has real work to do. Each party standardises its own columns locally (no information crosses).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class VerticalSplit:
    guest_csv: bytes
    host_csv: bytes
    # For the centralised baseline only (the demo driver sees both sides; parties never do).
    common_ids: list[str]
    x_guest: dict[str, np.ndarray]
    x_host: dict[str, np.ndarray]
    y: dict[str, float]
    guest_features: int
    host_features: int


def load(
    dataset: str, rows: int = 20000, features: int = 40, seed: int = 42
) -> tuple[np.ndarray, np.ndarray]:
    if dataset == "breast_cancer":
        from sklearn.datasets import load_breast_cancer

        data = load_breast_cancer()
        return np.asarray(data.data, dtype=np.float64), np.asarray(data.target, dtype=np.float64)
    if dataset == "synthetic":
        from silobridge.testing.datasets import synthetic

        return synthetic(rows, features, seed)
    raise ValueError(f"unknown demo dataset {dataset!r}: breast_cancer or synthetic")


def split(
    x: np.ndarray,
    y: np.ndarray,
    guest_features: int,
    *,
    private_fraction: float = 0.1,
    seed: int = 7,
    id_prefix: str = "id",
) -> VerticalSplit:
    rng = np.random.default_rng(seed)
    n = len(y)
    ids = np.array([f"{id_prefix}{i:06d}" for i in rng.permutation(n)])
    order = rng.permutation(n)
    k = round(n * private_fraction)
    guest_only, host_only = set(order[:k]), set(order[k : 2 * k])
    guest_rows = np.array([i for i in range(n) if i not in host_only])
    host_rows = np.array([i for i in range(n) if i not in guest_only])
    host_rows = host_rows[rng.permutation(len(host_rows))]
    xg = _standardise(x[guest_rows, :guest_features])
    xh = _standardise(x[host_rows, guest_features:])
    gnames = [f"g{j}" for j in range(xg.shape[1])]
    hnames = [f"h{j}" for j in range(xh.shape[1])]
    guest_csv = csv_bytes(
        ["id", "y", *gnames], [[ids[r], int(y[r]), *xg[i]] for i, r in enumerate(guest_rows)]
    )
    host_csv = csv_bytes(["id", *hnames], [[ids[r], *xh[i]] for i, r in enumerate(host_rows)])
    common = sorted(set(ids[guest_rows]) & set(ids[host_rows]))
    return VerticalSplit(
        guest_csv=guest_csv,
        host_csv=host_csv,
        common_ids=common,
        x_guest={ids[r]: xg[i] for i, r in enumerate(guest_rows)},
        x_host={ids[r]: xh[i] for i, r in enumerate(host_rows)},
        y={ids[r]: float(y[r]) for r in guest_rows},
        guest_features=xg.shape[1],
        host_features=xh.shape[1],
    )


def baseline_auc(s: VerticalSplit) -> float:
    """Centralised plaintext logistic regression on the intersected rows (the yardstick)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    x = np.array([np.concatenate([s.x_guest[i], s.x_host[i]]) for i in s.common_ids])
    y = np.array([s.y[i] for i in s.common_ids])
    model = LogisticRegression(max_iter=1000).fit(x, y)
    return float(roc_auc_score(y, model.predict_proba(x)[:, 1]))


def baseline_auc_gbdt(s: VerticalSplit, params: dict[str, Any]) -> float:
    """Centralised scikit-learn histogram GBDT with the job's trees, depth, learning rate, bins and L2."""
    from sklearn.metrics import roc_auc_score

    x = np.array([np.concatenate([s.x_guest[i], s.x_host[i]]) for i in s.common_ids])
    y = np.array([s.y[i] for i in s.common_ids])
    model = gbdt(params).fit(x, y)
    return float(roc_auc_score(y, model.predict_proba(x)[:, 1]))


def gbdt(params: dict[str, Any]) -> Any:
    """scikit-learn's HistGradientBoostingClassifier with a hetero_secureboost job's parameters."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        max_iter=int(params.get("num_trees", 10)),
        max_depth=int(params.get("max_depth", 3)),
        learning_rate=float(params.get("learning_rate", 0.3)),
        max_bins=int(params.get("max_bins", 32)),
        l2_regularization=float(params.get("l2", 0.1)),
        min_samples_leaf=int(params.get("min_child_samples", 20)),
        early_stopping=False,
    )


def logistic(params: dict[str, Any], rows: int) -> Any:
    """scikit-learn's LogisticRegression with a hetero_sshe_lr job's L2 penalty and epochs.

    The job minimises mean log loss + alpha/2 |w|^2; scikit-learn minimises C * summed log loss +
    1/2 |w|^2, the same objective for C = 1 / (alpha * rows)."""
    from sklearn.linear_model import LogisticRegression

    alpha, epochs = float(params.get("alpha", 0.01)), int(params.get("epochs", 10))
    if alpha == 0:
        return LogisticRegression(penalty=None, max_iter=epochs)
    return LogisticRegression(C=1.0 / (alpha * rows), max_iter=epochs)


def _standardise(x: np.ndarray) -> np.ndarray:
    sd = x.std(axis=0)
    sd[sd == 0] = 1.0
    out: np.ndarray = (x - x.mean(axis=0)) / sd
    return out


def csv_bytes(header: list[str], rows: list[list[object]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    for row in rows:
        w.writerow([f"{v:.10g}" if isinstance(v, float) else v for v in row])
    return buf.getvalue().encode()
