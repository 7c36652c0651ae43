"""``python -m silobridge.bench.secagg_bench``: secure-aggregation overhead of homo_lr rounds.

Runs the real ``homo_lr`` component for 3 and 10 clients (parties in threads of one process,
every value through the federation API and the codec, as bytes) on a softmax model of about
100k parameters, with and without secure aggregation, interleaved and repeated (median).
Reports the round time, the overhead ratio (target: at most 3x for 10 clients) and the bytes
each client sends per round. Writes ``secagg.json`` and ``secagg.md`` to ``--out-dir``.

Exit code 0 when the run completed (the JSON says whether the target was met); 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from silobridge.bench import machine
from silobridge.table import Table
from silobridge.testing import run_component

ARBITER = 0
TARGET_RATIO = 3.0


def _shape(params: int) -> tuple[int, int]:
    """(features, classes) of a softmax model with about ``params`` weights ((features + 1) * classes)."""
    classes = max(3, min(100, round(params**0.5 / 3)))
    return max(1, params // classes - 1), classes


def _tables(clients: int, rows: int, features: int, classes: int, seed: int) -> list[Table]:
    rng = np.random.default_rng(seed)
    names = [f"x{j}" for j in range(features)]
    out = []
    for c in range(clients):
        X = rng.normal(size=(rows, features))
        y = rng.integers(0, classes, size=rows).astype(np.float64)
        out.append(
            Table(ids=np.array([f"c{c}r{i}" for i in range(rows)]), features=X, feature_names=names, label=y)
        )
    return out


def _round(tables: list[Table], classes: int, rounds: int, secure: bool) -> tuple[float, float]:
    """(seconds per round, bytes each client sends per round) of one homo_lr run."""
    ids = list(range(1, len(tables) + 1))
    params = {
        "rounds": rounds,
        "classes": classes,
        "early_stop": False,
        "validation_fraction": 0.0,
        "secure_aggregation": secure,
        "learning_rate": 0.1,
        "seed": 1,
    }
    t0 = time.perf_counter()
    run = run_component(
        "homo_lr",
        {"guest": ids[:1], "host": ids[1:], "arbiter": [ARBITER]},
        inputs={p: {"data": t} for p, t in zip(ids, tables, strict=True)},
        params=params,
        recv_timeout_s=300,
        timeout_s=1800,
    )
    seconds = time.perf_counter() - t0
    run.raise_any()
    sent = sum(len(s.payload) for s in run.hub.sent if s.src != ARBITER and s.tag.startswith("r"))
    return seconds / rounds, sent / (len(tables) * rounds)


def measure(clients: int, params: int, rows: int, rounds: int, repeats: int) -> dict[str, Any]:
    features, classes = _shape(params)
    tables = _tables(clients, rows, features, classes, seed=clients)
    times: dict[str, list[float]] = {"plain": [], "secure": []}
    sent: dict[str, float] = {}
    for r in range(repeats):  # alternate so that both see the same machine state
        for mode in ("plain", "secure") if r % 2 == 0 else ("secure", "plain"):
            seconds, per_client = _round(tables, classes, rounds, mode == "secure")
            times[mode].append(seconds)
            sent[mode] = per_client
    plain, secure = statistics.median(times["plain"]), statistics.median(times["secure"])
    return {
        "clients": clients,
        "parameters": (features + 1) * classes,
        "rows_per_client": rows,
        "round_s": {"plain": plain, "secure": secure},
        "round_s_all": times,
        "overhead_ratio": secure / plain,
        "bytes_sent_per_client_per_round": sent,
    }


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "# Secure aggregation overhead (homo_lr rounds)",
        "",
        f"Model: softmax with {results['runs'][0]['parameters']:,} parameters; "
        f"{results['rounds']} rounds per run, median of {results['repeats']} interleaved runs; "
        "parties in threads of one process, every value through the federation API as bytes.",
        "",
        "| clients | plain round (s) | secure round (s) | overhead | bytes/client/round plain | secure |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results["runs"]:
        b = r["bytes_sent_per_client_per_round"]
        lines.append(
            f"| {r['clients']} | {r['round_s']['plain']:.3f} | {r['round_s']['secure']:.3f} | "
            f"{r['overhead_ratio']:.2f}x | {b['plain']:,.0f} | {b['secure']:,.0f} |"
        )
    c = results["criterion"]
    lines += [
        "",
        f"Target: overhead for {c['clients']} clients {c['target']}: {c['value']:.2f}x, met: {c['met']}.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m silobridge.bench.secagg_bench", description=__doc__)
    parser.add_argument("--out-dir", default="bench-results", help="where secagg.json / secagg.md go")
    parser.add_argument("--clients", default="3,10", help="client counts, comma-separated")
    parser.add_argument("--params", type=int, default=100_000, help="model parameters (about)")
    parser.add_argument("--rows", type=int, default=200, help="rows per client")
    parser.add_argument("--rounds", type=int, default=3, help="homo_lr rounds per run")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs per mode (median)")
    try:
        args = parser.parse_args(argv)
        counts = [int(c) for c in args.clients.split(",")]
    except (SystemExit, ValueError):
        return 2
    if any(c < 2 for c in counts) or args.params < 10 or args.rounds < 1 or args.repeats < 1:
        print("need at least 2 clients, 10 parameters, 1 round and 1 repeat", file=sys.stderr)
        return 2
    runs = []
    for clients in counts:
        print(f"[bench] secagg: {clients} clients ...", file=sys.stderr, flush=True)
        runs.append(measure(clients, args.params, args.rows, args.rounds, args.repeats))
    largest = max(runs, key=lambda r: r["clients"])
    results = {
        "machine": machine.describe(),
        "loadavg": list(os.getloadavg()),
        "rounds": args.rounds,
        "repeats": args.repeats,
        "runs": runs,
        "criterion": {
            "clients": largest["clients"],
            "value": largest["overhead_ratio"],
            "target": f"<= {TARGET_RATIO}",
            "met": largest["overhead_ratio"] <= TARGET_RATIO,
        },
    }
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "secagg.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "secagg.md").write_text(markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
