"""``python -m silobridge_cli.bench_serving`` (``make bench-serving``): online scoring under load.

Starts a guest and one host as single-process parties (``silobridge party run``, each its own OS
process, routers on loopback with mTLS), uploads the host's feature table, deploys a hetero_lr
model (guest half and host half, ``--features`` columns each) and a guest-only homo_lr model of
the same guest columns, then runs an asyncio load generator (keep-alive HTTP/1.1 on raw sockets,
one connection per client, each client sends its next request when the last one is answered)
against the guest's ``POST /v1/score/{name}`` for ``--seconds`` per level at 1, 8 and 64
concurrent clients.

Two rows per level: ``via router`` (the guest asks the host's serving through both routers) and
``guest only`` (the same endpoint, the same guest features, no host). Their difference is the cost
of the hop to the host: guest bus -> router -> gRPC/mTLS -> host router -> host serving and back.
Results: ``serving.json`` and ``serving.md`` in ``--out-dir`` with the machine noted.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from silobridge.bench import machine
from silobridge.federation import codec
from silobridge_cli import demo_data
from silobridge_cli.demo import DemoParties, upload

GUEST, HOST = 9999, 10000
LEVELS = (1, 8, 64)


def _models(features: int) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    rng = np.random.default_rng(5)
    gnames = [f"g{j}" for j in range(features)]
    hnames = [f"h{j}" for j in range(features)]
    guest = {
        "weights": rng.normal(0, 0.3, features),
        "intercept": np.array([0.1]),
        "feature_names": np.asarray(gnames, dtype=str),
    }
    host = {"weights": rng.normal(0, 0.3, features), "feature_names": np.asarray(hnames, dtype=str)}
    homo = {
        "weights": rng.normal(0, 0.3, features),
        "intercept": np.array([0.1]),
        "classes": np.array([2]),
        "feature_names": np.asarray(gnames, dtype=str),
    }
    return guest, host, homo


def _deploy(url: str, token: str, body: dict[str, Any]) -> None:
    resp = httpx.post(
        f"{url}/v1/models", json=body, headers={"authorization": f"Bearer {token}"}, timeout=120
    )
    if resp.status_code != 200:
        raise SystemExit(f"deploy at {url} failed: {resp.status_code} {resp.text[:300]}")


def setup(parties: DemoParties, rows: int, features: int) -> list[tuple[str, dict[str, float]]]:
    """Upload the host's table and deploy both models; the requests' (id, guest features)."""
    rng = np.random.default_rng(3)
    ids = [f"u{i:07d}" for i in range(rows)]
    xh = rng.standard_normal((rows, features))
    host_csv = demo_data.csv_bytes(
        ["id", *[f"h{j}" for j in range(features)]], [[i, *xh[k]] for k, i in enumerate(ids)]
    )
    upload(parties.flow("host"), host_csv, namespace="online", name="host")
    guest_m, host_m, homo_m = _models(features)
    job = {"job_id": "bench-serving", "task": "hetero_lr_0", "parties": {"guest": [GUEST], "host": [HOST]}}
    for role, pid, model, extra in (
        ("host", HOST, host_m, {"feature_table": "online.host"}),
        ("guest", GUEST, guest_m, {}),
    ):
        url = parties.procs[pid].urls["serving"]
        token = (parties.run_dir / f"party-{pid}" / "serving" / "admin.token").read_text().strip()
        body = {**job, "component": "hetero_lr", "role": role, "name": "lr", **extra}
        _deploy(url, token, {**body, "model": base64.b64encode(codec.to_bytes(model)).decode()})
    url = parties.procs[GUEST].urls["serving"]
    token = (parties.run_dir / f"party-{GUEST}" / "serving" / "admin.token").read_text().strip()
    _deploy(
        url,
        token,
        {
            "job_id": "bench-serving-homo",
            "task": "homo_lr_0",
            "component": "homo_lr",
            "role": "guest",
            "name": "local",
            "parties": {"guest": [GUEST]},
            "model": base64.b64encode(codec.to_bytes(homo_m)).decode(),
        },
    )
    xg = rng.standard_normal((rows, features))
    return [(i, {f"g{j}": float(xg[k, j]) for j in range(features)}) for k, i in enumerate(ids)]


async def _client(
    host: str,
    port: int,
    path: str,
    bodies: list[bytes],
    start: int,
    deadline: float,
    lat: list[float],
    errors: list[str],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    n = start
    try:
        while time.perf_counter() < deadline:
            body = bodies[n % len(bodies)]
            n += 1
            head = (
                f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode()
            t0 = time.perf_counter()
            writer.write(head + body)
            status = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            payload = await reader.readexactly(length)
            lat.append(time.perf_counter() - t0)
            if b" 200 " not in status and len(errors) < 5:
                errors.append(payload[:200].decode(errors="replace"))
            elif b" 200 " not in status:
                errors.append("")
    finally:
        writer.close()


async def run_level(url: str, name: str, bodies: list[bytes], clients: int, seconds: float) -> dict[str, Any]:
    u = httpx.URL(url)
    lat: list[float] = []
    errors: list[str] = []
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(
        *(
            _client(u.host, u.port or 80, f"/v1/score/{name}", bodies, c * 997, deadline, lat, errors)
            for c in range(clients)
        )
    )
    wall = time.perf_counter() - started
    ms = np.asarray(lat) * 1000
    return {
        "clients": clients,
        "requests": len(lat),
        "failed": len(errors),
        "requests_per_s": round(len(lat) / wall, 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "max_ms": round(float(ms.max()), 2),
        "first_errors": [e for e in errors if e][:3],
    }


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        "# Online serving: hetero_lr score at the guest, 1 host on loopback",
        "",
        f"Machine: {m.get('cpu_model', '?')}, {m.get('cores', '?')} cores, {m.get('platform', '?')}; load average "
        f"{results['loadavg_before']} before, {results['loadavg_after']} after. Guest and host are single-process "
        f"parties (each its own OS process; memory bus; routers with mTLS on loopback), and the load generator a "
        f"third process on the same machine. {results['seconds']:g} s per level, {results['features']} guest + "
        f"{results['features']} host features, {results['rows']} ids.",
        "",
        "| path | clients | requests/s | p50 ms | p99 ms | max ms | requests | failed |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results["levels"]:
        lines.append(
            f"| {r['path']} | {r['clients']} | {r['requests_per_s']} | {r['p50_ms']} | {r['p99_ms']} | "
            f"{r['max_ms']} | {r['requests']} | {r['failed']} |"
        )
    lines += ["", "Router hop (via router minus guest only, p50): " + ", ".join(
        f"{c} clients {results['hop_ms'][str(c)]} ms" for c in results["clients"]
    ), ""]  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=30.0, help="per level and path")
    p.add_argument("--clients", default=",".join(map(str, LEVELS)))
    p.add_argument("--rows", type=int, default=10_000)
    p.add_argument("--features", type=int, default=20)
    p.add_argument("--out-dir", type=Path, default=Path("bench-results"))
    args = p.parse_args(argv)
    clients = [int(c) for c in args.clients.split(",")]
    with tempfile.TemporaryDirectory(prefix="sb-serving-") as tmp:
        parties = DemoParties({"guest": GUEST, "host": HOST}, Path(tmp))
        try:
            parties.start()
            requests = setup(parties, args.rows, args.features)
            bodies = [json.dumps({"id": i, "features": f}).encode() for i, f in requests]
            url = parties.procs[GUEST].urls["serving"]
            before = os.getloadavg()[0]
            levels = []
            asyncio.run(run_level(url, "lr", bodies, 4, 2.0))  # warm up: connections, gRPC streams
            for c in clients:
                for path, name in (("via router", "lr"), ("guest only", "local")):
                    r = asyncio.run(run_level(url, name, bodies, c, args.seconds))
                    r["path"] = path
                    levels.append(r)
                    print(f"{path:>10} {c:>3} clients: {r['requests_per_s']:>8} req/s  p50 {r['p50_ms']} ms  p99 {r['p99_ms']} ms  failed {r['failed']}", flush=True)  # fmt: skip
            after = os.getloadavg()[0]
        finally:
            parties.stop()
    by = {(r["path"], r["clients"]): r for r in levels}
    results = {
        "machine": machine.describe(),
        "loadavg_before": round(before, 2),
        "loadavg_after": round(after, 2),
        "seconds": args.seconds,
        "rows": args.rows,
        "features": args.features,
        "clients": clients,
        "levels": levels,
        "hop_ms": {
            str(c): round(by[("via router", c)]["p50_ms"] - by[("guest only", c)]["p50_ms"], 2)
            for c in clients
        },
    }
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "serving.json").write_text(json.dumps(results, indent=2))
    (args.out_dir / "serving.md").write_text(markdown(results))
    print(markdown(results))
    return 0 if all(r["failed"] == 0 for r in levels) else 1


if __name__ == "__main__":
    raise SystemExit(main())
