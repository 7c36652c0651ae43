"""``python -m silobridge.bench``: the Paillier benchmark suite (``make bench``).

The Hetero LR figure runs the real ``hetero_lr`` component with each engine; the phe epoch is
measured in full (several minutes) unless ``--quick`` (or ``SILOBRIDGE_BENCH_QUICK=1``) asks for
an extrapolation from a subset of rows, which the JSON labels ``phe_extrapolated_from_rows``.

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
    parser.add_argument("--lr-workers", type=int, default=2, help="worker processes per party (fast engine)")
    parser.add_argument(
        "--quick",
        action="store_true",
        default=os.environ.get("SILOBRIDGE_BENCH_QUICK", "") not in ("", "0"),
        help="time the phe LR epoch on --phe-rows rows and extrapolate (env SILOBRIDGE_BENCH_QUICK=1)",
    )
    parser.add_argument(
        "--phe-rows",
        type=int,
        default=1000,
        help="with --quick: rows the phe LR epoch is timed on (default 1000)",
    )
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--skip-lr", action="store_true")
    parser.add_argument("--skip-lr-1worker", action="store_true", help="skip the single-process LR epoch")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    results: dict[str, Any] = {"machine": machine.describe(), "results": {}}
    results["machine"]["loadavg_before"] = machine.loadavg()

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
        results["machine"]["loadavg_before_lr"] = machine.loadavg()
        results["hetero_lr"] = hetero_lr_epoch.compare(
            args.lr_rows,
            args.lr_features,
            key_bits=args.lr_bits,
            workers=args.lr_workers,
            phe_rows=args.phe_rows if args.quick else None,
            one_worker=not args.skip_lr_1worker,
            say=_say,
        )

    results["machine"]["loadavg_after"] = machine.loadavg()
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
