"""``make bench-sshe``: SSHE-LR (no arbiter) against centralised scikit-learn, on breast cancer and
on the synthetic 20,000 x (20 + 20) table.

Runs the real ``hetero_sshe_lr`` component at a guest and a host in one process (threads over the
in-memory hub, each party with its own compute backend), 1024-bit keys, full batch. The baseline
is the one ``tests/unit/components/test_hetero_sshe_lr.py`` uses on breast cancer: scikit-learn's
``LogisticRegression`` with the same L2 (``C = 1 / (alpha * rows)``) and ``max_iter`` = epochs,
trained centrally on the same rows. Each party standardises its own columns first (as
``feature_scale`` does in a pipeline; column by column, so the same as standardising the whole
table); the learning rate is per dataset (``DATASETS``), the rest as the component's defaults.

The acceptance bar is a train AUC within 0.005 of the baseline; the command exits 1 when a
dataset misses it. Writes ``bench-results/sshe.json`` and ``sshe.md``; the load average before and
after each run is in the JSON (the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from silobridge.bench import machine

GAP = 0.005
COMMON = {"key_bits": 1024, "epochs": 10, "batch_size": -1, "alpha": 0.01, "seed": 1}
# dataset -> (guest features, learning rate)
DATASETS = {"breast_cancer": (10, 0.5), "synthetic": (20, 1.0)}


def _say(msg: str) -> None:
    print(f"[bench-sshe] {msg}", file=sys.stderr, flush=True)


def _data(name: str, rows: int) -> tuple[np.ndarray, np.ndarray]:
    from silobridge.testing.datasets import synthetic

    if name == "synthetic":
        x, y = synthetic(rows, 40)
    else:
        from sklearn.datasets import load_breast_cancer

        x, y = load_breast_cancer(return_X_y=True)
    return (x - x.mean(axis=0)) / x.std(axis=0), np.asarray(y, dtype=np.float64)


def baseline_auc(x: np.ndarray, y: np.ndarray) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    model = LogisticRegression(C=1.0 / (COMMON["alpha"] * len(y)), max_iter=COMMON["epochs"])
    return float(roc_auc_score(y, model.fit(x, y).decision_function(x)))


def fit(name: str, rows: int, workers: int) -> dict[str, Any]:
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    from silobridge.testing import run_component
    from silobridge.testing.datasets import vertical_split

    x, y = _data(name, rows)
    guest_features, lr = DATASETS[name]
    guest, host = vertical_split(x, y, guest_features)
    load = machine.loadavg()
    started = time.perf_counter()
    run = run_component(
        "hetero_sshe_lr",
        {"guest": [1], "host": [2]},
        inputs={1: {"data": guest}, 2: {"data": host}},
        params={**COMMON, "learning_rate": lr},
        workers=workers,
        timeout_s=7200,
        recv_timeout_s=3600,
    )
    seconds = time.perf_counter() - started
    run.raise_any()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        base = baseline_auc(x, y)
    auc = float(run.result(1).summary["train_auc"])
    return {
        "rows": len(y),
        "guest_features": guest_features,
        "host_features": x.shape[1] - guest_features,
        "learning_rate": lr,
        "seconds": round(seconds, 1),
        "train_auc": auc,
        "baseline_auc": base,
        "auc_gap": abs(auc - base),
        "within_gap": abs(auc - base) <= GAP,
        "loadavg_before": load,
        "loadavg_after": machine.loadavg(),
    }


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        "# SSHE-LR against centralised scikit-learn",
        "",
        f"{m['cpu_model']}, {m['cores']} cores (shared; load average before -> after each run).",
        f"1024-bit keys, {COMMON['epochs']} epochs, full batch, L2 {COMMON['alpha']}; baseline "
        f"LogisticRegression(C = 1 / (alpha * rows), max_iter = epochs). Bar: AUC gap <= {GAP}.",
        "",
        "| dataset | rows | guest + host features | lr | seconds | train AUC | baseline AUC | gap | ok | load |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results["datasets"].items():
        lines.append(
            f"| {name} | {r['rows']:,} | {r['guest_features']} + {r['host_features']} | {r['learning_rate']} | "
            f"{r['seconds']} | {r['train_auc']:.4f} | {r['baseline_auc']:.4f} | {r['auc_gap']:.4f} | "
            f"{'yes' if r['within_gap'] else 'NO'} | {r['loadavg_before']} -> {r['loadavg_after']} |"
        )
    return "\n".join([*lines, ""])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m silobridge.bench.sshe_bench", description=__doc__)
    parser.add_argument("--out-dir", default="bench-results")
    parser.add_argument("--rows", type=int, default=20000, help="rows of the synthetic table")
    parser.add_argument("--workers", type=int, default=2, help="compute threads per party")
    parser.add_argument(
        "--datasets", default=",".join(DATASETS), help="comma-separated: " + ", ".join(DATASETS)
    )
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"machine": machine.describe(), "settings": COMMON, "datasets": {}}
    for name in [d.strip() for d in args.datasets.split(",") if d.strip()]:
        if name not in DATASETS:
            parser.error(f"unknown dataset {name!r}: one of {', '.join(DATASETS)}")
        _say(f"{name} ...")
        r = results["datasets"][name] = fit(name, args.rows, args.workers)
        _say(f"{name}: {r['seconds']} s, AUC {r['train_auc']:.4f} vs {r['baseline_auc']:.4f}")
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "sshe.json").write_text(json.dumps(results, indent=2, default=float))
    (out / "sshe.md").write_text(markdown(results))
    print(markdown(results))
    return 0 if all(r["within_gap"] for r in results["datasets"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
