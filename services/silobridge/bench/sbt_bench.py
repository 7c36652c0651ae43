"""``make bench-sbt``: Hetero SecureBoost fit time, where it goes, and packed vs unpacked gradients.

Runs the real ``hetero_secureboost`` component at a guest and a host in one process (threads over
the in-memory hub, each party with its own compute backend of ``--workers`` threads), with the
acceptance settings: 5 trees of depth 3, learning rate 0.3, 32 bins, 1024-bit keys. Reports:

- the synthetic 20,000 x (20 + 20) fit: wall seconds, train AUC beside scikit-learn's
  ``HistGradientBoostingClassifier`` with the same settings trained centrally on the same rows;
- per tree and per layer seconds, and the share of the fit in encryption (guest), histograms and
  re-randomisation (host), and decryption (guest);
- packed ``[[g, h]]`` (one ciphertext per row) vs unpacked (one each), run side by side on the
  same rows, alternating, the median of ``--rounds``.

The machine is shared: the load average before and after every measurement is in the JSON.
Writes ``bench-results/sbt.json`` and ``sbt.md``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from silobridge.bench import machine
from silobridge.testing.datasets import synthetic

SETTINGS = {"num_trees": 5, "max_depth": 3, "learning_rate": 0.3, "max_bins": 32, "l2": 0.0, "key_bits": 1024}


def _say(msg: str) -> None:
    print(f"[bench-sbt] {msg}", file=sys.stderr, flush=True)


def fit(x: np.ndarray, y: np.ndarray, guest_features: int, workers: int, **params: Any) -> dict[str, Any]:
    """One federated fit; its wall time and both parties' summaries."""
    from silobridge.testing import run_component
    from silobridge.testing.datasets import vertical_split

    guest, host = vertical_split(x, y, guest_features)
    load = machine.loadavg()
    started = time.perf_counter()
    run = run_component(
        "hetero_secureboost",
        {"guest": [1], "host": [2]},
        inputs={1: {"data": guest}, 2: {"data": host}},
        params={**SETTINGS, **params},
        workers=workers,
        timeout_s=3600,
        recv_timeout_s=1800,
    )
    seconds = time.perf_counter() - started
    run.raise_any()
    g, h = run.result(1).summary, run.result(2).summary
    shares = {
        "encryption": g["seconds_encrypt"] / seconds,
        "histograms": h["seconds_histograms"] / seconds,
        "rerandomisation": h["seconds_rerandomise"] / seconds,
        "decryption": g["seconds_decrypt"] / seconds,
    }
    return {
        "seconds": round(seconds, 2),
        "train_auc": g.get("train_auc"),
        "seconds_per_tree": round(g["seconds_per_tree"], 3),
        "seconds_per_layer": round(g["seconds_per_layer"], 3),
        "share": {k: round(v, 3) for k, v in shares.items()},
        "guest": g,
        "host": h,
        "loadavg_before": load,
        "loadavg_after": machine.loadavg(),
    }


def baseline_auc(x: np.ndarray, y: np.ndarray) -> float:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    model = HistGradientBoostingClassifier(
        max_iter=SETTINGS["num_trees"],
        max_depth=SETTINGS["max_depth"],
        learning_rate=SETTINGS["learning_rate"],
        max_bins=SETTINGS["max_bins"],
        l2_regularization=SETTINGS["l2"],
        min_samples_leaf=20,
        early_stopping=False,
    ).fit(x, y)
    return float(roc_auc_score(y, model.predict_proba(x)[:, 1]))


def packed_vs_unpacked(rows: int, workers: int, rounds: int) -> dict[str, Any]:
    x, y = synthetic(rows, 40, seed=7)
    times: dict[str, list[float]] = {"packed": [], "unpacked": []}
    runs: dict[str, dict[str, Any]] = {}
    for _ in range(rounds):
        for name, packing in (("packed", True), ("unpacked", False)):
            runs[name] = fit(x, y, 20, workers, packing=packing, num_trees=2)
            times[name].append(runs[name]["seconds"])
    packed, unpacked = statistics.median(times["packed"]), statistics.median(times["unpacked"])
    return {
        "rows": rows,
        "trees": 2,
        "rounds": rounds,
        "seconds": times,
        "median_packed_s": packed,
        "median_unpacked_s": unpacked,
        "unpacked_over_packed": round(unpacked / packed, 3),
        "same_auc": runs["packed"]["train_auc"] == runs["unpacked"]["train_auc"],
        "ciphertexts_summed": {k: v["host"]["ciphertexts_summed"] for k, v in runs.items()},
        "share_packed": runs["packed"]["share"],
        "share_unpacked": runs["unpacked"]["share"],
    }


def markdown(results: dict[str, Any]) -> str:
    s = results["synthetic"]
    p = results["packing"]
    m = results["machine"]
    lines = [
        "# Hetero SecureBoost benchmark",
        "",
        f"{m['cpu_model']}, {m['cores']} cores (shared; load average before/after each run below).",
        "",
        f"## Synthetic {s['rows']:,} x ({s['guest_features']} + {s['host_features']}), 5 trees, depth 3, "
        "lr 0.3, 32 bins, 1024-bit keys",
        "",
        "| fit (s) | goal | train AUC | HistGradientBoosting AUC | s / tree | s / layer | load before -> after |",
        "|---|---|---|---|---|---|---|",
        f"| {s['seconds']} | < 60 | {s['train_auc']:.4f} | {s['baseline_auc']:.4f} | {s['seconds_per_tree']} | "
        f"{s['seconds_per_layer']} | {s['loadavg_before']} -> {s['loadavg_after']} |",
        "",
        "Share of the fit: " + ", ".join(f"{k} {100 * v:.0f}%" for k, v in s["share"].items()) + ".",
        "",
        f"## Packed vs unpacked [[g, h]] ({p['rows']:,} rows, {p['trees']} trees, median of {p['rounds']})",
        "",
        "| packed (s) | unpacked (s) | unpacked / packed | same model |",
        "|---|---|---|---|",
        f"| {p['median_packed_s']} | {p['median_unpacked_s']} | {p['unpacked_over_packed']} | {p['same_auc']} |",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m silobridge.bench.sbt_bench", description=__doc__)
    parser.add_argument("--out-dir", default="bench-results")
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--workers", type=int, default=2, help="compute threads per party")
    parser.add_argument("--packing-rows", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3, help="alternating packed/unpacked runs (median)")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"machine": machine.describe(), "settings": SETTINGS}

    _say(f"synthetic {args.rows} x (20 + 20)")
    x, y = synthetic(args.rows, 40)
    fitted = fit(x, y, 20, args.workers)
    fitted.update(rows=args.rows, guest_features=20, host_features=20, baseline_auc=baseline_auc(x, y))
    fitted["auc_gap"] = abs(fitted["train_auc"] - fitted["baseline_auc"])
    fitted["under_60s"] = fitted["seconds"] < 60
    results["synthetic"] = fitted
    _say(f"fit {fitted['seconds']} s, AUC {fitted['train_auc']:.4f} vs {fitted['baseline_auc']:.4f}")

    _say(f"packed vs unpacked, {args.packing_rows} rows")
    results["packing"] = packed_vs_unpacked(args.packing_rows, args.workers, args.rounds)

    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "sbt.json").write_text(json.dumps(results, indent=2, default=float))
    (out / "sbt.md").write_text(markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
