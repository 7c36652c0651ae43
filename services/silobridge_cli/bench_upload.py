"""``python -m silobridge_cli.bench_upload`` (``make bench-upload``): a large CSV uploaded
through the CLI to a real party process, with the peak RSS of both processes.

Writes a CSV of about ``--mb`` MB (a string id, ``--features`` float columns, a 0/1 label),
starts one single-process party (``silobridge party run``: flow, node-manager, cluster-manager
and router in one process, so its peak bounds each of them), and runs ``silobridge data upload``
as its own process. Each process's high-water RSS (``VmHWM``, reset at exec) is read from
``/proc`` until it exits. Writes ``upload.json`` to ``--out-dir``.

Exit code 0 when the table was stored with every row; 1 when not; 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from silobridge.bench import machine
from silobridge_cli.credentials import BOOTSTRAP_FILE
from silobridge_cli.demo import DemoParties

PARTY = 9999


def write_csv(path: Path, target_bytes: int, features: int) -> int:
    """Rows of random values, batch by batch, until the file reaches ``target_bytes``."""
    rng = np.random.default_rng(11)
    rows = 0
    with path.open("w", encoding="utf-8") as fh:
        fh.write("id," + ",".join(f"x{j}" for j in range(features)) + ",y\n")
        while fh.tell() < target_bytes:
            values = np.round(rng.standard_normal((50_000, features)), 6).astype(str)
            ids = np.char.add("user-", np.arange(rows, rows + 50_000).astype(str))
            labels = rng.integers(0, 2, 50_000).astype(str)
            table = np.column_stack([ids, values, labels])
            fh.write("\n".join(",".join(r) for r in table.tolist()) + "\n")
            rows += 50_000
    return rows


class PeakRss:
    """Polls a process's ``VmHWM`` until it exits; the last value read is its peak."""

    def __init__(self, pid: int) -> None:
        self.pid, self.mb = pid, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        self.mb = int(line.split()[1]) / 1024
            except OSError:
                return
            self._stop.wait(0.2)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.mb


def run(mb: int, features: int, work: Path) -> dict[str, Any]:
    csv = work / "upload.csv"
    t0 = time.perf_counter()
    rows = write_csv(csv, mb * 10**6, features)
    result: dict[str, Any] = {
        "csv_bytes": csv.stat().st_size,
        "rows": rows,
        "features": features,
        "write_seconds": round(time.perf_counter() - t0, 1),
        "numpy_mb": round(rows * (features + 1) * 8 / 2**20 + rows * len(f"user-{rows}") * 4 / 2**20, 1),
    }
    (work / "party").mkdir()
    parties = DemoParties({"guest": PARTY}, work / "party")
    parties.start()
    try:
        server = PeakRss(parties.procs[PARTY].proc.pid)
        token = work / "party" / f"party-{PARTY}" / "flow" / BOOTSTRAP_FILE
        cmd = [
            sys.executable, "-m", "silobridge_cli.main", "data", "upload", "--flow", parties.flow("guest"),
            "--token-file", str(token), "--file", str(csv), "--namespace", "bench", "--name", "upload",
            "--id-column", "id", "--label-column", "y", "--timeout", "3600",
        ]  # fmt: skip
        t0 = time.perf_counter()
        client = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        client_rss = PeakRss(client.pid)
        out, err = client.communicate()
        result["upload_seconds"] = round(time.perf_counter() - t0, 1)
        result["client_peak_rss_mb"] = round(client_rss.stop(), 1)
        result["party_peak_rss_mb"] = round(server.stop(), 1)
        result["cli_exit_code"] = client.returncode
        result["cli_output"] = out.strip() or err.strip()[-500:]
        result["progress_bar_drawn"] = "100.0%" in err
        stored = (
            parties.procs[PARTY].ready_file.parent / f"party-{PARTY}" / "node-manager" / "tables" / "bench"
        )
        result["stored_mb"] = round(sum(p.stat().st_size for p in stored.rglob("*.npz")) / 2**20, 1)
        result["stored_partitions"] = len(list(stored.rglob("part-*.npz")))
    finally:
        parties.stop()
    result["stored"] = f"{rows} rows" in result["cli_output"]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m silobridge_cli.bench_upload", description=__doc__)
    parser.add_argument("--mb", type=int, default=1000, help="CSV size in MB (10^6 bytes)")
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--out-dir", default="bench-results")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return 2 if exc.code else 0
    results: dict[str, Any] = {"machine": machine.describe()}
    results["machine"]["loadavg_before"] = machine.loadavg()
    with tempfile.TemporaryDirectory(prefix="upload-bench-") as tmp:
        results["run"] = run(args.mb, args.features, Path(tmp))
    results["machine"]["loadavg_after"] = machine.loadavg()
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "upload.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results["run"], indent=2))
    return 0 if results["run"]["stored"] else 1


if __name__ == "__main__":
    sys.exit(main())
