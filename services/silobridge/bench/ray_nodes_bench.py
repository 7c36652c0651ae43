"""``make bench-ray``: one hetero_lr epoch with 1 and with 2 node-managers as Ray nodes (issue 16).

A party Ray cluster is started on this host the way the local launcher starts one: a head with no
CPUs and one Ray node per node-manager, each limited to ``--cpus-per-node`` CPUs and advertising
``silobridge_node_<id>``. This process attaches to node ``n1``'s raylet, as node-manager n1's
process does. Each party's compute backend gets a :class:`Placement` of its table's rows over the
node-managers of the run (``n1``, or ``n1`` + ``n2``), so chunk ``i`` of every encryption,
obfuscation and encrypted matrix product runs on the node holding rows of chunk ``i``.

The three parties of the job (guest, host, arbiter) run in this one process and share the one Ray
cluster here; in a deployment each party has its own cluster. The epoch is timed as in
:mod:`silobridge.bench.hetero_lr_epoch` (guest's plan sent -> arbiter's end-of-epoch verdict).
Runs alternate 1 node / 2 nodes round by round; the speed-up is the median of the rounds.

Locality share: of the tasks placed by a Placement, those that ran on a node holding their
partition (per the driver's count, cross-checked against Ray's state API by node id).
Not measured: bytes moved between Ray nodes (Ray exposes no per-transfer count here).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from silobridge.bench import machine
from silobridge.compute.placement import Placement
from silobridge.compute.ray_cluster import LocalRayCluster

SPEEDUP_GOAL = 1.6
LOCALITY_GOAL = 0.9


def _say(msg: str) -> None:
    print(f"[bench-ray] {msg}", file=sys.stderr, flush=True)


def run(
    rows: int, features: int, *, key_bits: int, batch_size: int, rounds: int, cpus_per_node: int
) -> dict[str, Any]:
    from silobridge.bench.hetero_lr_epoch import make_tables, run_epoch

    guest, host = make_tables(rows, features)
    out: dict[str, Any] = {"runs": []}
    weights: list[list[float]] = []
    t0 = time.perf_counter()
    with LocalRayCluster() as cluster:
        cluster.start()
        temp = cluster.add_node("n1", cpus=cpus_per_node)
        cluster.add_node("n2", cpus=cpus_per_node)
        out["cluster_start_s"] = round(time.perf_counter() - t0, 1)
        os.environ.update(cluster.env)  # before ray is imported: Ray reads its auth mode once
        from silobridge.compute.ray_backend import RayBackend

        RayBackend(address=cluster.address, temp_dir=temp)  # attach this process to node n1
        for r in range(rounds):
            for nodes in (["n1"], ["n1", "n2"]) if r % 2 == 0 else (["n1", "n2"], ["n1"]):
                backends: list[RayBackend] = []

                def make(nodes: list[str] = nodes, backends: list[RayBackend] = backends) -> RayBackend:
                    backends.append(RayBackend(placement=Placement.spread(rows, nodes)))
                    return backends[-1]

                load = machine.loadavg()
                _say(f"round {r + 1}: {len(nodes)} node(s), load {load}")
                res = run_epoch(
                    guest, host, "fast", key_bits=key_bits, batch_size=batch_size, make_compute=make
                )
                weights.append(res["weights"])
                tasks = sum(b.locality.tasks for b in backends)
                local = sum(b.locality.local for b in backends)
                by_node: dict[str, int] = {}
                busy: dict[str, float] = {}
                for b in backends:
                    for n, c in b.locality.by_node.items():
                        by_node[n] = by_node.get(n, 0) + c
                    for n, sec in b.locality.busy_s.items():
                        busy[n] = round(busy.get(n, 0.0) + sec, 2)
                run_out = {
                    "nodes": len(nodes),
                    "round": r + 1,
                    "epoch_s": res["epoch_s"],
                    "auc": res["auc"],
                    "weights_head": res["weights"][:3],
                    "placed_tasks": tasks,
                    "locality_share": round(local / tasks, 4) if tasks else None,
                    "tasks_by_node": by_node,
                    # seconds the placed tasks ran on each node: the part of the epoch Ray spreads
                    "task_s_by_node": busy,
                    "load_before": load,
                    "load_after": machine.loadavg(),
                }
                _say(f"  epoch {res['epoch_s']} s, AUC {res['auc']}, locality {run_out['locality_share']}")
                out["runs"].append(run_out)
    one = [r["epoch_s"] for r in out["runs"] if r["nodes"] == 1]
    two = [r["epoch_s"] for r in out["runs"] if r["nodes"] == 2]
    speedups = [a / b for a, b in zip(one, two, strict=True)]
    shares = [r["locality_share"] for r in out["runs"] if r["locality_share"] is not None]
    out |= {
        "epoch_s_1_node": statistics.median(one),
        "epoch_s_2_nodes": statistics.median(two),
        "speedup": round(statistics.median(speedups), 3),
        "speedups": [round(s, 3) for s in speedups],
        "locality_share": min(shares) if shares else None,
        # weights differ by ~1e-12 with chunk timing (float sums); same model within 1e-9
        "max_weight_diff": float(
            max(abs(a - b) for w in weights for a, b in zip(w, weights[0], strict=True))
        ),
        "criteria": {
            f"speedup >= {SPEEDUP_GOAL}": statistics.median(speedups) >= SPEEDUP_GOAL,
            f"locality >= {LOCALITY_GOAL}": bool(shares) and min(shares) >= LOCALITY_GOAL,
        },
    }
    return out


def markdown(results: dict[str, Any]) -> str:
    s = results["settings"]
    lines = [
        "# bench-ray: hetero_lr epoch on 1 vs 2 node-managers as Ray nodes",
        "",
        f"Machine: {results['machine']}",
        "",
        f"{s['rows']} x {s['features']}, {s['key_bits']}-bit keys, batch {s['batch_size']}, "
        f"{s['cpus_per_node']} CPU per Ray node, {s['rounds']} round(s)",
        "",
        "| round | nodes | epoch s | AUC | placed tasks | locality | tasks by node | task s by node | load before/after |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results["runs"]:
        lines.append(
            f"| {r['round']} | {r['nodes']} | {r['epoch_s']} | {r['auc']} | {r['placed_tasks']} | "
            f"{r['locality_share']} | {r['tasks_by_node']} | {r['task_s_by_node']} | "
            f"{r['load_before']} / {r['load_after']} |"
        )
    lines += [
        "",
        f"Speed-up 2 vs 1 node (median): **{results['speedup']}x** (rounds: {results['speedups']}); "
        f"locality share (lowest run): **{results['locality_share']}**; largest weight difference "
        f"between runs: {results['max_weight_diff']:.2e}",
        "",
        f"Criteria: {results['criteria']}",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m silobridge.bench.ray_nodes_bench", description=__doc__)
    parser.add_argument("--out-dir", default="bench-results")
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--features", type=int, default=40)
    parser.add_argument("--key-bits", type=int, default=2048)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=1, help="1-node/2-node pairs, alternating order")
    parser.add_argument("--cpus-per-node", type=int, default=1)
    args = parser.parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so the Ray cluster's process groups are stopped on the way out
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    settings = {
        k: getattr(args, k) for k in ("rows", "features", "key_bits", "batch_size", "rounds", "cpus_per_node")
    }
    results: dict[str, Any] = {"machine": machine.describe(), "settings": settings}
    results |= run(
        args.rows,
        args.features,
        key_bits=args.key_bits,
        batch_size=args.batch_size,
        rounds=args.rounds,
        cpus_per_node=args.cpus_per_node,
    )
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "ray.json").write_text(json.dumps(results, indent=2, default=float))
    (out / "ray.md").write_text(markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
