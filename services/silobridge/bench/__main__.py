"""``python -m silobridge.bench``: the Paillier benchmark suite (``make bench``).

Exit code 0 when the run completed (whether or not every target was met: the JSON says which);
2 on bad arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from silobridge.bench import hetero_lr_epoch, machine, packing_bench, paillier_ops, report


def _loadavg() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def _say(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m silobridge.bench", description=__doc__)
    parser.add_argument("--out-dir", default="bench-results", help="where paillier.json / paillier.md go")
    parser.add_argument("--bits", default="1024,2048", help="key sizes for the per-operation table")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per operation (median)")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply operation counts (e.g. 0.2 for a smoke run)"
    )
    parser.add_argument("--lr-rows", type=int, default=20000)
    parser.add_argument("--lr-features", type=int, default=40)
    parser.add_argument("--lr-bits", type=int, default=2048)
    parser.add_argument(
        "--phe-rows",
        type=int,
        default=300,
        help="rows the phe LR epoch is timed on (0: the whole epoch, slow)",
    )
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--skip-lr", action="store_true")
    parser.add_argument("--skip-lr-1worker", action="store_true", help="skip the single-process LR epoch")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    results: dict[str, Any] = {"machine": machine.describe(), "results": {}}
    results["machine"]["loadavg_before"] = _loadavg()

    for bits in [int(b) for b in args.bits.split(",") if b]:
        _say(f"per-operation throughput, {bits}-bit keys")
        results["results"][str(bits)] = paillier_ops.run(bits, rounds=args.rounds, scale=args.scale)

    _say("packing (g, h) vs separate columns")
    results["packing"] = packing_bench.run(2048, rows=max(100, int(10_000 * min(args.scale, 1.0))))

    if not args.skip_ray:
        from silobridge.bench import ray_scaling

        _say("Ray scaling of batch encryption")
        results["ray_scaling"] = ray_scaling.run(
            2048, per_worker_items=max(50, int(600 * min(args.scale, 1.0)))
        )

    if not args.skip_lr:
        rows, feats = args.lr_rows, args.lr_features
        keys = hetero_lr_epoch.make_keys(args.lr_bits)
        _say(f"Hetero LR epoch, {rows} x {feats}, this engine")
        fast = hetero_lr_epoch.run(rows, feats, "fast", keys=keys)
        one = None
        if not args.skip_lr_1worker:
            _say("Hetero LR epoch, this engine in one process")
            one = hetero_lr_epoch.run(rows, feats, "fast", keys=keys, workers=1)
        _say("Hetero LR epoch, phe")
        phe_rows = args.phe_rows if args.phe_rows > 0 else None
        phe = hetero_lr_epoch.run(rows, feats, "phe", keys=keys, phe_rows=phe_rows)
        lr: dict[str, Any] = {
            "rows": rows,
            "features": feats,
            "key_bits": args.lr_bits,
            "batch_size": fast["batch_size"],
            "workers": fast["workers"],
            "epoch_s": fast["epoch_s"],
            "epoch_s_phe": phe["epoch_s"],
            "speedup_vs_phe": round(phe["epoch_s"] / fast["epoch_s"], 3),
            "auc": fast["auc"],
            "auc_phe": phe["auc"],
            "auc_phe_source": phe["auc_source"],
            "fast_detail": fast,
            "phe_detail": phe,
        }
        if one is not None:
            lr["epoch_s_1worker"] = one["epoch_s"]
            lr["speedup_vs_phe_1worker"] = round(phe["epoch_s"] / one["epoch_s"], 3)
            lr["fast_1worker_detail"] = one
        if "phe_extrapolated_from_rows" in phe:
            lr["phe_extrapolated_from_rows"] = phe["phe_extrapolated_from_rows"]
        results["hetero_lr"] = lr

    results["machine"]["loadavg_after"] = _loadavg()
    results["criteria"] = report.criteria(results)
    results["bench_s"] = round(time.perf_counter() - started, 1)

    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "paillier.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    md = report.markdown(results)
    (out / "paillier.md").write_text(md, encoding="utf-8")
    print(md)
    _say(f"wrote {out / 'paillier.json'} and {out / 'paillier.md'} in {results['bench_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
