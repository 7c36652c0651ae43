"""``python -m silobridge.bench.sources_bench`` (``make bench-sources``): what reading a bound
table costs in memory and time, side by side with loading it whole.

Writes a Parquet directory of ``--rows`` rows (a string id, ``--features`` float64 columns, a
label) in ``--files`` files, then runs each way of reading it in a fresh process and reports the
process's peak RSS and wall time:

* ``whole``: the table as one in-memory :class:`Table` (what an uploaded or copied table costs);
* ``ids``: ``SourceTable.ids``, the id column alone, batch by batch (what PSI reads);
* ``take``: ``SourceTable.take`` of ``--take-fraction`` of the rows (PSI's output);
* ``baseline``: a process that imports the same modules and reads nothing.

Writes ``sources.json`` to ``--out-dir``. Exit code 0 when every run completed; 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from silobridge.bench import machine

MODES = ("baseline", "ids", "take", "whole")


def _write(folder: Path, rows: int, features: int, files: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(5)
    for f, chunk in enumerate(np.array_split(np.arange(rows), files)):
        cols: dict[str, Any] = {"id": pa.array([f"user-{i:010d}" for i in chunk])}
        for j in range(features):
            cols[f"x{j}"] = rng.standard_normal(len(chunk))
        cols["y"] = rng.integers(0, 2, len(chunk))
        pq.write_table(pa.table(cols), folder / f"part-{f:04d}.parquet")


def _child(mode: str, folder: Path, rows: int, features: int, fraction: float) -> dict[str, Any]:
    from silobridge.sources.files import FileSource
    from silobridge.sources.lazy import SourceTable

    table = SourceTable(
        FileSource("parquet", folder, "id", [str(folder)]),
        ref=("bench", "t"),
        id_name="id",
        label_name="y",
        feature_names=[f"x{j}" for j in range(features)],
        rows=rows,
    )
    start = time.perf_counter()
    if mode == "ids":
        assert len(table.ids) == rows
    elif mode == "take":
        picked = np.random.default_rng(1).choice(rows, int(rows * fraction), replace=False)
        assert table.take(picked).rows == len(picked)
    elif mode == "whole":
        whole = table.take(np.arange(rows))
        assert whole.features.shape == (rows, features)
    seconds = time.perf_counter() - start
    return {
        "mode": mode,
        "seconds": seconds,
        "peak_rss_mb": _peak_rss_mb(),
    }


def _peak_rss_mb() -> float:
    """This process's own high-water RSS (VmHWM). getrusage's maxrss would also count what the
    parent held when it started the child: Linux carries that mark across exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m silobridge.bench.sources_bench", description=__doc__)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--take-fraction", type=float, default=0.1)
    parser.add_argument("--out-dir", default="bench-results")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.child, Path(args.dir), args.rows, args.features, args.take_fraction)))
        return 0
    results: dict[str, Any] = {
        "machine": machine.describe(),
        "rows": args.rows,
        "features": args.features,
        "files": args.files,
        "numpy_features_mb": args.rows * args.features * 8 / 2**20,
        "runs": [],
    }
    with tempfile.TemporaryDirectory(prefix="sources-bench-") as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        _write(folder, args.rows, args.features, args.files)
        results["write_seconds"] = time.perf_counter() - t0
        results["parquet_mb"] = sum(p.stat().st_size for p in folder.iterdir()) / 2**20
        for mode in MODES:
            cmd = [
                sys.executable,
                "-m",
                "silobridge.bench.sources_bench",
                "--child",
                mode,
                "--dir",
                str(folder),
            ]
            cmd += ["--rows", str(args.rows), "--features", str(args.features)]
            cmd += ["--take-fraction", str(args.take_fraction)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True)
            run = json.loads(out.stdout)
            results["runs"].append(run)
            print(
                f"[bench] {mode:<8} {run['seconds']:7.2f} s  peak RSS {run['peak_rss_mb']:8.0f} MB",
                file=sys.stderr,
            )
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "sources.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
