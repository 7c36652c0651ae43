"""``python -m silobridge_cli.bench_bound`` (``make bench-bound``): PSI and one hetero LR epoch on
a bound table of millions of rows, through three real party processes, with each one's peak RSS.

Writes the guest's table (``--rows`` rows: a string id, ``--features`` float columns and a 0/1
label) and the host's (``--host-rows`` rows: id and ``--features`` floats, ``--shared`` of its ids
also at the guest) as Parquet directories, starts guest, host and arbiter as
``silobridge party run`` processes whose node-managers may bind that directory
(``--bind-allow``) and whose tasks wait for a peer's value as long as the job may take
(``--recv-timeout``: the arbiter's LR task waits through the whole PSI), binds both tables
through flow's API, and runs ``reader -> psi -> hetero_lr`` (one epoch) from the guest. It records every task's seconds at
every party, and each party process's high-water RSS (``VmHWM``) as each task ends and at the
end, against the guest table's size as numpy arrays. Writes ``bound.json`` and ``bound.md`` to
``--out-dir``.

Exit code 0 when the job succeeded with the expected intersection; 1 when not; 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from silobridge.bench import machine
from silobridge_cli.bench_upload import PeakRss
from silobridge_cli.credentials import auth_headers
from silobridge_cli.demo import FINAL, DemoParties, submit_yaml

PARTIES = {"guest": 9999, "host": 10000, "arbiter": 10001}
FILE_ROWS = 250_000
ROW_GROUP_ROWS = 65_536


def _ids(numbers: np.ndarray) -> pa.Array:
    return pa.array(np.char.add("user-", np.char.zfill(numbers.astype(str), 10)))


def write_tables(root: Path, rows: int, host_rows: int, shared: int, features: int) -> dict[str, Any]:
    """Guest ids ``user-0000000000``.. (15 characters); the host holds ``shared`` of them, drawn at
    random, and ``host_rows - shared`` of its own. The label depends on the guest's features."""
    rng = np.random.default_rng(17)
    weights = rng.standard_normal(features)
    guest, host = root / "guest", root / "host"
    guest.mkdir(parents=True)
    host.mkdir()
    for f, start in enumerate(range(0, rows, FILE_ROWS)):
        n = min(FILE_ROWS, rows - start)
        x = rng.standard_normal((n, features))
        y = (x @ weights + rng.standard_normal(n) > 0).astype(np.float64)
        cols = {
            "id": _ids(np.arange(start, start + n)),
            **{f"g{j}": x[:, j] for j in range(features)},
            "y": y,
        }
        pq.write_table(pa.table(cols), guest / f"part-{f:04d}.parquet", row_group_size=ROW_GROUP_ROWS)
        del x, cols
    ids = np.concatenate(
        [rng.choice(rows, shared, replace=False), np.arange(rows, rows + host_rows - shared)]
    )
    rng.shuffle(ids)
    hx = rng.standard_normal((host_rows, features))
    cols = {"id": _ids(ids), **{f"h{j}": hx[:, j] for j in range(features)}}
    pq.write_table(pa.table(cols), host / "part-0000.parquet", row_group_size=ROW_GROUP_ROWS)
    size = sum(p.stat().st_size for p in guest.glob("*.parquet"))
    return {
        "guest_rows": rows,
        "host_rows": host_rows,
        "shared_ids": shared,
        "features_per_party": features,
        "guest_parquet_mb": round(size / 2**20, 1),
        "guest_files": len(list(guest.glob("*.parquet"))),
        # What the issue compares with: the guest table as numpy float64 (id + features), and with
        # the label and the ids as numpy strings (15 characters, 4 bytes each) what loading it whole costs.
        "guest_numpy_mb": round(rows * (features + 1) * 8 / 2**20, 1),
        "guest_numpy_with_label_and_str_ids_mb": round(rows * ((features + 1) * 8 + 15 * 4) / 2**20, 1),
    }


JOB = """
initiator: {{role: guest, party_id: {guest}}}
parties: {{guest: [{guest}], host: [{host}], arbiter: [{arbiter}]}}
timeout_s: 21600
components:
  - {{name: reader_0, component: reader,
     role_params: {{guest: {{table: bench.guest, require_label: true}}, host: {{table: bench.host}}}}}}
  - {{name: psi_0, component: psi, inputs: {{data: reader_0.data}}}}
  - name: hetero_lr_0
    component: hetero_lr
    inputs: {{data: psi_0.data}}
    params: {{epochs: {epochs}, batch_size: {batch_size}, key_bits: {key_bits}, early_stop: false}}
"""


def job(epochs: int, batch_size: int, key_bits: int) -> dict[str, Any]:
    text = JOB.format(**PARTIES, epochs=epochs, batch_size=batch_size, key_bits=key_bits)
    return dict(yaml.safe_load(text))


def bind(flow: str, name: str, location: Path, label: str) -> dict[str, Any]:
    body = {"namespace": "bench", "name": name, "kind": "parquet", "location": str(location),
            "id_column": "id", "label_column": label}  # fmt: skip
    resp = httpx.post(f"{flow}/v1/tables/bind", json=body, headers=auth_headers(flow), timeout=600)
    if resp.status_code != 201:
        raise RuntimeError(f"bind {name}: {resp.status_code} {resp.text[:300]}")
    return dict(resp.json()["table"])


def follow(
    parties: DemoParties, job_id: str, rss: dict[str, PeakRss], timeout_s: float
) -> tuple[str, list[dict[str, Any]], dict[str, Any]]:
    """Poll the job at every party (each flow times its own tasks); when a task ends, note its
    party's VmHWM so far, the peak through that task. (final state, every party's tasks, peaks)."""
    peaks: dict[str, Any] = {}
    deadline = time.monotonic() + timeout_s
    while True:
        tasks: list[dict[str, Any]] = []
        for role, pid in PARTIES.items():
            flow = parties.flow(role)
            state = httpx.get(f"{flow}/v1/jobs/{job_id}", headers=auth_headers(flow), timeout=60).json()
            tasks += [t for t in state["tasks"] if t["party_id"] == pid]
            if role == "guest":
                job_state = state["state"]
        for t in tasks:
            key = f"{t['role']}/{t['name']}"
            if t["state"] in FINAL and key not in peaks:
                peaks[key] = round(rss[t["role"]].mb, 1)
                print(
                    f"  {key:<22} {t['state']:<9} {t['ended'] - t['started']:8.1f} s   "
                    f"peak RSS so far {peaks[key]} MiB",
                    flush=True,
                )
        if job_state in FINAL and all(t["state"] in FINAL for t in tasks):
            return job_state, tasks, peaks
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id} not finished in {timeout_s:.0f} s")
        time.sleep(1.0)


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    t0 = time.perf_counter()
    result: dict[str, Any] = {
        "tables": write_tables(work / "data", args.rows, args.host_rows, args.shared, args.features)
    }
    result["tables"]["write_seconds"] = round(time.perf_counter() - t0, 1)
    print(f"tables written in {result['tables']['write_seconds']} s: {result['tables']}", flush=True)
    parties = DemoParties(
        PARTIES,
        work / "run",
        party_args=("--bind-allow", str(work / "data"), "--recv-timeout", str(args.timeout)),
    )
    parties.start()
    try:
        rss = {role: PeakRss(parties.procs[pid].proc.pid) for role, pid in PARTIES.items()}
        time.sleep(1.0)
        result["idle_rss_mb"] = {role: round(r.mb, 1) for role, r in rss.items()}
        t0 = time.perf_counter()
        bound = {
            "guest": bind(parties.flow("guest"), "guest", work / "data" / "guest", "y"),
            "host": bind(parties.flow("host"), "host", work / "data" / "host", ""),
        }
        result["bind_seconds"] = round(time.perf_counter() - t0, 1)
        result["bound_rows"] = {role: int(t["rows"]) for role, t in bound.items()}
        spec = job(args.epochs, args.batch_size, args.key_bits)
        parties.allow(spec)
        job_id = submit_yaml(parties.flow("guest"), yaml.safe_dump(spec, sort_keys=False))
        print(f"job {job_id}: reader -> psi -> hetero_lr ({args.epochs} epoch)", flush=True)
        t0 = time.perf_counter()
        job_state, tasks, peaks = follow(parties, job_id, rss, args.timeout)
        result["job_seconds"] = round(time.perf_counter() - t0, 1)
        result["job_state"] = job_state
        result["tasks"] = [
            {"role": t["role"], "task": t["name"], "state": t["state"],
             "seconds": round(t["ended"] - t["started"], 1), "peak_rss_mb_at_end": peaks.get(f"{t['role']}/{t['name']}"),
             "summary": t.get("summary") or {}, "message": t.get("message", "")}
            for t in tasks
        ]  # fmt: skip
        result["peak_rss_mb"] = {role: round(r.stop(), 1) for role, r in rss.items()}
    finally:
        result["party_exit_codes"] = parties.stop()
    psi: dict[str, Any] = next(
        (t for t in result["tasks"] if t["role"] == "guest" and t["task"] == "psi_0"), {}
    )
    result["intersected_rows"] = int(psi.get("summary", {}).get("intersected_rows", 0))
    result["ok"] = result["job_state"] == "SUCCEEDED" and result["intersected_rows"] == args.shared
    numpy_mb = result["tables"]["guest_numpy_mb"]
    result["peak_rss_share_of_numpy"] = {
        r: round(mb / numpy_mb, 3) for r, mb in result["peak_rss_mb"].items()
    }
    return result


def markdown(results: dict[str, Any]) -> str:
    r, m = results["run"], results["machine"]
    t = r["tables"]
    lines = [
        "# PSI and one hetero LR epoch on a bound table",
        "",
        f"Machine: {m['cores']} cores ({m['cpu_model']}), load average {m['loadavg_before']} before, "
        f"{m['loadavg_after']} after. Parties: `silobridge party run` processes, local compute (threads).",
        "",
        f"Guest: {t['guest_rows']:,} rows x ({t['features_per_party']} floats + label), bound Parquet "
        f"({t['guest_files']} files, {t['guest_parquet_mb']} MiB); host: {t['host_rows']:,} rows x "
        f"{t['features_per_party']} floats, {t['shared_ids']:,} ids shared. Intersection found: "
        f"{r['intersected_rows']:,}. Guest table as numpy float64 (id + features, 8 B each): "
        f"{t['guest_numpy_mb']} MiB ({t['guest_numpy_mb'] * 2**20 / 1e6:,.0f} MB). RSS is the kernel's VmHWM, in MiB.",
        "",
        "| task | role | seconds | peak RSS at its end (MiB) |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {x['task']} | {x['role']} | {x['seconds']} | {x['peak_rss_mb_at_end']} |" for x in r["tasks"]
    ]
    lines += [
        "",
        "| process | idle RSS (MiB) | peak RSS (MiB) | share of the numpy table |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {role} | {r['idle_rss_mb'][role]} | {mb} | {r['peak_rss_share_of_numpy'][role]:.0%} |"
        for role, mb in r["peak_rss_mb"].items()
    ]
    lines += ["", f"Tables written in {t['write_seconds']} s, bound in {r['bind_seconds']} s; job {r['job_seconds']} s "
              f"({r['job_state']})."]  # fmt: skip
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m silobridge_cli.bench_bound", description=__doc__)
    parser.add_argument("--rows", type=int, default=5_000_000, help="rows of the guest's bound table")
    parser.add_argument("--host-rows", type=int, default=40_000)
    parser.add_argument("--shared", type=int, default=20_000, help="host ids also at the guest")
    parser.add_argument("--features", type=int, default=20, help="float columns at each party")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=5_000)
    parser.add_argument("--key-bits", type=int, default=2048)
    parser.add_argument("--timeout", type=float, default=4 * 3600, help="seconds the job may take")
    parser.add_argument("--out-dir", default="bench-results")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return 2 if exc.code else 0
    if not 0 < args.shared <= min(args.rows, args.host_rows):
        print("--shared must be between 1 and the smaller table's rows", file=sys.stderr)
        return 2
    results: dict[str, Any] = {"machine": machine.describe(), "args": vars(args)}
    results["machine"]["loadavg_before"] = machine.loadavg()
    with tempfile.TemporaryDirectory(prefix="bound-bench-") as tmp:
        results["run"] = run(args, Path(tmp))
    results["machine"]["loadavg_after"] = machine.loadavg()
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bound.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (out / "bound.md").write_text(markdown(results), encoding="utf-8")
    print(markdown(results))
    return 0 if results["run"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
