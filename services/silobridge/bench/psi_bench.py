"""``python -m silobridge.bench.psi_bench`` (``make bench-psi``): the ``psi`` component at scale.

Guest and host (threads of this process over the in-process hub, every value through the codec,
``--workers`` worker processes each) intersect ``--rows`` ids each, half of them shared, in
random order. Reports the task's wall time, the CPU seconds of both parties and their workers,
whether X25519 ran in the native kernel, and checks that both parties end with exactly the
true intersection, in the same order. Writes ``psi.json`` to ``--out-dir``.

Exit code 0 when the run completed and the intersection was exact; 1 when it was not; 2 on bad
arguments.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from silobridge.bench import machine
from silobridge.components import registry
from silobridge.components.registry import RoleFn, TaskResult
from silobridge.compute.factory import create_compute
from silobridge.federation.context import TaskContext
from silobridge.ml import native
from silobridge.table import Table
from silobridge.testing import run_component

TARGET_S = 80.0


def _cpu_seconds() -> float:
    own, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime


def _tables(rows: int, seed: int) -> tuple[Table, Table, set[str]]:
    rng = np.random.default_rng(seed)
    shared = rows // 2
    ids = np.array([f"user-{i:09d}" for i in rng.permutation(2 * rows - shared)])
    guest_ids, host_ids = ids[:rows], ids[rows - shared :]
    truth = set(guest_ids.tolist()) & set(host_ids.tolist())
    guest = Table(ids=rng.permutation(guest_ids), features=np.zeros((rows, 1)), feature_names=["x"])
    host = Table(ids=rng.permutation(host_ids), features=np.zeros((rows, 1)), feature_names=["x"])
    return guest, host, truth


def run(rows: int, workers: int, seed: int = 0) -> dict[str, Any]:
    guest, host, truth = _tables(rows, seed)
    backends = {p: create_compute("processes" if workers > 1 else "local", workers=workers) for p in (1, 2)}
    for b in backends.values():
        b.map(abs, list(range(b.workers)))  # start the workers before the task

    def wrap(fn: RoleFn) -> RoleFn:
        def role(ctx: TaskContext) -> TaskResult:
            ctx.compute.close()
            ctx.compute = backends[ctx.party_id]
            return fn(ctx)

        return role

    base = registry.get("psi")
    defn = dataclasses.replace(base, roles={r: wrap(f) for r, f in base.roles.items()})
    t0, cpu0 = time.perf_counter(), _cpu_seconds()
    result = run_component(
        defn,
        {"guest": [1], "host": [2]},
        inputs={1: {"data": guest}, 2: {"data": host}},
        recv_timeout_s=1800.0,
        timeout_s=3600.0,
        job_id="bench-psi",
    )
    seconds = time.perf_counter() - t0
    for b in backends.values():
        b.close()  # joins the workers, so their CPU time is counted below
    cpu = _cpu_seconds() - cpu0
    result.raise_any()
    g_ids = list(result.result(1).tables["data"].ids)
    h_ids = list(result.result(2).tables["data"].ids)
    exact = set(g_ids) == truth and len(g_ids) == len(truth) and g_ids == h_ids
    return {
        "rows_per_party": rows,
        "true_intersection": len(truth),
        "intersection": len(g_ids),
        "exact": exact,
        "seconds": round(seconds, 2),
        # Both parties and their workers: on a shared machine, what the run needed whatever the load.
        "cpu_seconds": round(cpu, 2),
        "native_x25519": native.available(),
        "target_s": TARGET_S,
        "met": exact and seconds <= TARGET_S,
        "wire_bytes": sum(len(s.payload) for s in result.hub.sent),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m silobridge.bench.psi_bench", description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="ids per party (half of them shared)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes per party")
    parser.add_argument("--out-dir", default="bench-results")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return 2 if exc.code else 0
    if args.rows < 20:
        print("bench-psi: --rows must be at least 20", file=sys.stderr)
        return 2
    results: dict[str, Any] = {"machine": machine.describe()}
    results["machine"]["loadavg_before"] = machine.loadavg()
    results["run"] = run(args.rows, args.workers)
    results["machine"]["loadavg_after"] = machine.loadavg()
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "psi.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results["run"], indent=2))
    return 0 if results["run"]["exact"] else 1


if __name__ == "__main__":
    sys.exit(main())
