"""``python -m silobridge.bench.lr_bench`` (``make bench-lr``): whole ``hetero_lr`` jobs, per-phase.

Three parties (guest, host, arbiter) run the registered ``hetero_lr`` role functions in threads
of this process over the in-process hub (the memory twin of bus + routers: every value goes
through the codec and its protobuf bytes, nothing passes by reference). Each party has its own
compute backend of ``--workers`` worker processes, started and warmed before the task as a
node-manager's pool would be, so the three parties' heavy work competes for the machine's cores
as it does on one host. Ciphertexts are randomised as in production.

Runs: ``synth20k`` (20,000 rows, 20 + 20 standardised ``make_classification`` features, seed 42,
as ``make demo-synthetic``) and ``breast`` (breast cancer, 10 + 20 standardised features) at the
issue's settings: 10 epochs, full batch, rmsprop, learning rate 0.15, L2 0.01, random-uniform
init. ``seconds`` is the task's wall time at the slowest party (key generation and the final
predictions included, worker start-up excluded). ``cpu_seconds`` is the CPU time (user + system)
of the whole run: the three parties and their worker processes, worker start-up included; on a
machine shared with other work it says how much work the job needed, whatever the load.

``--baseline REF`` runs the same runs, interleaved, on the tree of git commit ``REF`` (exported
with ``git archive`` into a temporary directory, this file and its clock copied in) in a
subprocess; a baseline that lacks a parameter (rmsprop, random init) runs with its defaults and
says so in ``params``. Writes ``lr.json`` (and ``lr.md``) to ``--out-dir``.

Exit code 0 when the runs completed (the JSON says which targets were met); 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from silobridge.bench import machine
from silobridge.bench.lr_phases import PHASES, ClockedFederation, PhaseClock
from silobridge.components import registry
from silobridge.components.registry import ComponentDef, RoleFn, TaskResult
from silobridge.compute.base import ComputeBackend
from silobridge.compute.factory import create_compute
from silobridge.federation.context import TaskContext
from silobridge.table import Table
from silobridge.testing import run_component
from silobridge.testing.datasets import vertical_split

GUEST, HOST, ARBITER = 1, 2, 9
PARTIES = {"guest": [GUEST], "host": [HOST], "arbiter": [ARBITER]}
NAMES = {GUEST: "guest", HOST: "host", ARBITER: "arbiter"}
SETTINGS: dict[str, Any] = {
    "epochs": 10,
    "batch_size": -1,
    "optimizer": "rmsprop",
    "learning_rate": 0.15,
    "lr_schedule": "inverse_sqrt",  # with lr_decay 1: the other platform's default decay
    "lr_decay": 1.0,
    "bias_correction": True,
    "alpha": 0.01,
    "init": "random_uniform",
    "early_stop": False,
    "seed": 7,
}
# (dataset, key bits) -> (seconds, auc) of issue 12's goals.
TARGETS = {("synth20k", 1024): (50.0, 0.885), ("breast", 1024): (4.0, 0.99), ("breast", 2048): (9.0, 0.99)}
DEFAULT_RUNS = "synth20k:1024,breast:1024,breast:2048"


def dataset(name: str) -> tuple[Table, Table]:
    if name == "synth20k":
        from sklearn.datasets import make_classification

        X, y = make_classification(
            n_samples=20000, n_features=40, n_informative=20, n_redundant=10, random_state=42
        )
        guest_features = 20
    elif name == "breast":
        from sklearn.datasets import load_breast_cancer

        data = load_breast_cancer()
        X, y = data.data, data.target
        guest_features = 10
    else:
        raise ValueError(f"unknown dataset {name!r}: synth20k or breast")
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    return vertical_split(np.asarray(X, np.float64), np.asarray(y, np.float64), guest_features)


def _warm(item: int) -> int:
    """Runs once in each worker before the task: the engine's imports (process start-up, not crypto)."""
    import silobridge.crypto.paillier.parallel  # noqa: F401

    time.sleep(0.2)  # keep this worker busy so that the next item starts another one
    return item


def _supported(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings this tree's ``hetero_lr`` accepts (a baseline may lack rmsprop or random init)."""
    fields = registry.get("hetero_lr").params.model_fields
    out = {}
    for key, value in settings.items():
        if key not in fields:
            continue
        annotation = str(fields[key].annotation)
        if isinstance(value, str) and "Literal" in annotation and repr(value) not in annotation:
            continue  # e.g. optimizer="rmsprop" on a tree that only has sgd/adam: its default
        out[key] = value
    return out


def _cpu_seconds() -> float:
    """User + system CPU of this process and of its children that have ended (the workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_one(
    name: str, key_bits: int, workers: int, settings: dict[str, Any], backend: str = "processes"
) -> dict[str, Any]:
    guest, host = dataset(name)
    params = {**_supported(settings), "key_bits": key_bits}
    cpu0 = _cpu_seconds()
    backends: dict[int, ComputeBackend] = {}
    try:
        result = _run_one(name, key_bits, guest, host, params, backends, workers, backend)
    finally:
        for compute in backends.values():
            compute.close()  # waits for the workers, so that their CPU time is counted
    return result | {"cpu_seconds": round(_cpu_seconds() - cpu0, 3), "kernel": kernel_name()}


def _run_one(
    name: str,
    key_bits: int,
    guest: Table,
    host: Table,
    params: dict[str, Any],
    backends: dict[int, ComputeBackend],
    workers: int,
    backend: str,
) -> dict[str, Any]:
    for party in NAMES:
        kind = "processes" if backend == "processes" and workers > 1 else "local"
        backends[party] = create_compute(kind, workers=workers)
        if kind == "processes":
            backends[party].map(_warm, list(range(workers)))
    clock = PhaseClock()
    finished: dict[int, float] = {}

    def wrap(fn: RoleFn) -> RoleFn:
        def role(ctx: TaskContext) -> TaskResult:
            ctx.compute.close()  # the runner's own backend, never started
            ctx.compute = backends[ctx.party_id]
            ctx.federation = ClockedFederation(ctx.federation, clock)
            sink = ctx.progress_sink

            def progress(fraction: float) -> None:
                clock.epoch_done()
                if sink is not None:
                    sink(fraction)

            ctx.progress_sink = progress
            clock.attach(ctx.party_id)
            try:
                return fn(ctx)
            finally:
                finished[ctx.party_id] = time.perf_counter()

        return role

    base = registry.get("hetero_lr")
    defn: ComponentDef = dataclasses.replace(base, roles={r: wrap(f) for r, f in base.roles.items()})
    with clock.installed():
        t0 = time.perf_counter()
        run = run_component(
            defn,
            PARTIES,
            inputs={GUEST: {"data": guest}, HOST: {"data": host}},
            params=params,
            recv_timeout_s=1800.0,
            timeout_s=3600.0,
            job_id=f"bench-lr-{name}-{key_bits}",
        )
    run.raise_any()
    seconds = max(finished.values()) - t0
    summary = run.result(GUEST).summary
    return {
        "dataset": name,
        "rows": guest.rows,
        "features": [guest.features.shape[1], host.features.shape[1]],
        "key_bits": key_bits,
        "epochs": int(summary.get("epochs", 0)),
        "seconds": round(seconds, 3),
        "auc": round(float(summary["train_auc"]), 6),
        "loss": round(float(summary["loss"]), 6),
        "params": params,
        "messages": len(run.hub.sent),
        "wire_bytes": sum(len(s.payload) for s in run.hub.sent),
        **clock.breakdown(NAMES),
    }


def kernel_name() -> str:
    """Which Paillier arithmetic this tree runs: the native kernel (and its IFMA lanes) or Python."""
    try:
        from silobridge.crypto.paillier import native
    except ImportError:  # a baseline tree from before the native kernel
        return "python"
    if not native.available():
        return "python"
    return "native+ifma" if native.ifma() else "native"


def _runs(spec: str) -> list[tuple[str, int]]:
    out = []
    for item in spec.split(","):
        name, _, bits = item.partition(":")
        if name not in ("synth20k", "breast") or not bits.isdigit():
            raise ValueError(f"bad run {item!r}: use dataset:bits, e.g. synth20k:1024")
        out.append((name, int(bits)))
    return out


def _baseline_tree(ref: str, into: Path) -> Path:
    """The ``services`` tree of commit ``ref`` with this benchmark's files copied in."""
    root = Path(
        subprocess.run(
            ["git", "rev-parse", "--show-toplevel"], check=True, capture_output=True, text=True
        ).stdout.strip()
    )
    archive = subprocess.run(
        ["git", "-C", str(root), "archive", ref, "services"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    bench_dir = into / "services" / "silobridge" / "bench"
    here = Path(__file__).resolve().parent
    for f in ("lr_bench.py", "lr_phases.py", "machine.py"):
        shutil.copy2(here / f, bench_dir / f)
    return into / "services"


def _baseline_run(tree: Path, name: str, bits: int, workers: int, backend: str) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        env = {**os.environ, "PYTHONPATH": str(tree)}
        cmd = [
            sys.executable,
            "-m",
            "silobridge.bench.lr_bench",
            "--emit",
            out.name,
            "--runs",
            f"{name}:{bits}",
        ]
        cmd += ["--workers", str(workers), "--backend", backend]
        subprocess.run(cmd, check=True, env=env, cwd=tree)
        result: dict[str, Any] = json.loads(Path(out.name).read_text(encoding="utf-8"))["runs"][0]
        return result


def _say(msg: str) -> None:
    print(f"[bench-lr] {msg}", file=sys.stderr, flush=True)


def _print_run(r: dict[str, Any]) -> None:
    print(
        f"\n{r.get('variant', 'current')}: {r['dataset']} {r['rows']}x{sum(r['features'])}, {r['key_bits']} bits, "
        f"{r['epochs']} epochs: {r['seconds']:.2f} s, train AUC {r['auc']:.4f}, "
        f"CPU {r.get('cpu_seconds', 0.0):.1f} s"
    )
    header = f"  {'epoch':>5} {'party':<8}" + "".join(f"{p:>10}" for p in (*PHASES, "wall"))
    print(header)
    for row in r["per_epoch"]:
        for role in NAMES.values():
            if role in row:
                cells = "".join(f"{row[role].get(p, 0.0):>10.3f}" for p in (*PHASES, "wall"))
                print(f"  {row['epoch']:>5} {role:<8}{cells}")
    for role, tot in r["by_party"].items():
        cells = "".join(f"{tot.get(p, 0.0):>10.3f}" for p in (*PHASES, "wall"))
        print(f"  {'all':>5} {role:<8}{cells}")


def criteria(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in runs:
        target = TARGETS.get((r["dataset"], r["key_bits"]))
        if target is None or r.get("variant") == "baseline":
            continue
        secs, auc = target
        out.append(
            {
                "run": f"{r['dataset']}@{r['key_bits']}",
                "seconds": r["seconds"],
                "seconds_target": secs,
                "auc": r["auc"],
                "auc_target": auc,
                "met": r["seconds"] <= secs and r["auc"] >= auc,
            }
        )
    return out


def markdown(results: dict[str, Any]) -> str:
    lines = ["# hetero_lr end to end (make bench-lr)", ""]
    m = results["machine"]
    lines.append(
        f"Machine: {m.get('cpu_model')}, {m.get('cores')} cores, load {m.get('loadavg_before')} -> {m.get('loadavg_after')}."
    )
    lines += [
        "",
        "| variant | dataset | bits | epochs | seconds | CPU s | AUC | " + " | ".join(PHASES) + " |",
    ]
    lines.append("|" + "---|" * (7 + len(PHASES)))
    for r in results["runs"]:
        ph = " | ".join(f"{r['phases'].get(p, 0.0):.2f}" for p in PHASES)
        lines.append(
            f"| {r.get('variant', 'current')} ({r.get('kernel', 'python')}) | {r['dataset']} | {r['key_bits']} | {r['epochs']} | "
            f"{r['seconds']:.2f} | {r.get('cpu_seconds', 0.0):.1f} | {r['auc']:.4f} | {ph} |"
        )
    lines += ["", "Phases: seconds summed over the three parties and the epochs (setup excluded).", ""]
    for c in results.get("criteria", []):
        lines.append(
            f"- {c['run']}: {c['seconds']:.2f} s (goal <= {c['seconds_target']}), AUC {c['auc']:.4f} "
            f"(goal >= {c['auc_target']}): {'met' if c['met'] else 'NOT met'}"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m silobridge.bench.lr_bench", description=__doc__)
    parser.add_argument("--out-dir", default="bench-results")
    parser.add_argument("--runs", default=DEFAULT_RUNS, help="dataset:bits,... (synth20k, breast)")
    parser.add_argument("--workers", type=int, default=2, help="compute workers per party")
    parser.add_argument(
        "--backend",
        choices=("threads", "processes"),
        default="processes",
        help="each party's compute backend: worker processes, or a thread pool (the node-manager's "
        "default compute_backend=local; with the native kernel, which releases the GIL, the cheaper one)",
    )
    parser.add_argument(
        "--baseline-backend",
        choices=("threads", "processes"),
        default="processes",
        help="the baseline's backend (processes: a pure-Python engine holds the GIL)",
    )
    parser.add_argument("--baseline", default="", help="git commit to measure side by side (empty: none)")
    parser.add_argument("--emit", default="", help=argparse.SUPPRESS)  # baseline subprocess: JSON here
    try:
        args = parser.parse_args(argv)
        runs = _runs(args.runs)
    except (SystemExit, ValueError) as exc:
        print(f"bench-lr: {exc}", file=sys.stderr)
        return 2
    results: dict[str, Any] = {"machine": machine.describe(), "runs": []}
    results["machine"]["loadavg_before"] = machine.loadavg()
    results["machine"]["paillier_kernel"] = kernel_name()
    results["machine"]["parties"] = (
        "3 parties in threads of one process over the in-process hub (memory bus + codec bytes), "
        f"{args.workers} compute workers each ({args.backend})"
    )
    if args.emit:
        for name, bits in runs:
            results["runs"].append(run_one(name, bits, args.workers, SETTINGS, args.backend))
        Path(args.emit).write_text(json.dumps(results), encoding="utf-8")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        tree = _baseline_tree(args.baseline, Path(tmp)) if args.baseline else None
        for name, bits in runs:
            if tree is not None:
                _say(f"{name} at {bits} bits, baseline {args.baseline}")
                base = {
                    "variant": "baseline",
                    "commit": args.baseline,
                    **_baseline_run(tree, name, bits, args.workers, args.baseline_backend),
                }
                results["runs"].append(base)
                _print_run(base)
            _say(f"{name} at {bits} bits, this tree")
            cur = {"variant": "current", **run_one(name, bits, args.workers, SETTINGS, args.backend)}
            results["runs"].append(cur)
            _print_run(cur)
    results["machine"]["loadavg_after"] = machine.loadavg()
    results["criteria"] = criteria(results["runs"])
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "lr.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    md = markdown(results)
    (out / "lr.md").write_text(md, encoding="utf-8")
    print("\n" + md)
    _say(f"wrote {out / 'lr.json'} and {out / 'lr.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
