"""``python -m silobridge.bench.bus``: the bus backends side by side (``make bench-bus``).

For memory://, RabbitMQ and Pulsar, in one run on one machine: one producer and one consumer in
one process, persistent confirmed publishes (each ``publish`` awaits the broker's confirmation,
as every service does), of 1 KiB and of 1 MiB bodies. Reported: messages/s and MB/s from the
first publish to the last handled message, and publish-to-handle latency (p50, p99).

A broker that does not answer is reported as skipped with the reason (the JSON says so); start
them with ``make services``. Writes ``bench-results/bus.json`` and ``bus.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from silobridge.bench import machine
from silobridge.bus.base import Bus, Message
from silobridge.bus.factory import create_bus

SIZES = {"1KiB": 1024, "1MiB": 1024 * 1024}


def _default_urls() -> dict[str, str]:
    return {
        "memory": "memory://bench",
        "rabbitmq": os.environ.get("SILOBRIDGE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
        "pulsar": os.environ.get("SILOBRIDGE_TEST_PULSAR_URL", "pulsar://127.0.0.1:6650"),
    }


async def _one(bus: Bus, size: int, count: int, window: int) -> dict[str, Any]:
    """``count`` messages, at most ``window`` unconfirmed at once (concurrent confirmed publishes)."""
    group = f"bench-{uuid.uuid4().hex[:8]}"
    topic = f"bench.{group}"
    sent_at: dict[str, float] = {}
    latencies: list[float] = []
    done = asyncio.Event()

    async def handle(msg: Message) -> None:
        t = sent_at.get(msg.message_id)
        if t is not None:
            latencies.append(time.perf_counter() - t)
            if len(latencies) == count:
                done.set()

    sub = await bus.subscribe(topic, handle, group=group, prefetch=64)
    body = os.urandom(size)
    limiter = asyncio.Semaphore(window)

    async def send(i: int) -> None:
        async with limiter:
            mid = f"{group}-{i}"
            sent_at[mid] = time.perf_counter()
            await bus.publish(topic, body, message_id=mid)

    started = time.perf_counter()
    await asyncio.gather(*(send(i) for i in range(count)))
    await asyncio.wait_for(done.wait(), timeout=300)
    elapsed = time.perf_counter() - started
    await sub.cancel()
    await bus.delete_group(group)
    latencies.sort()
    return {
        "messages": count,
        "seconds": round(elapsed, 3),
        "msgs_per_s": round(count / elapsed, 1),
        "mb_per_s": round(count * size / elapsed / 1e6, 2),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 2),
    }


async def _backend(name: str, url: str, counts: dict[str, int], window: int) -> dict[str, Any]:
    bus = create_bus(url, prefix=f"bench{uuid.uuid4().hex[:6]}")
    try:
        await asyncio.wait_for(bus.start(), 30)
        await _one(bus, 16, 10, window)  # warm-up: connections, producers, topics
        rows = {label: await _one(bus, SIZES[label], counts[label], window) for label in SIZES}
        # Latency alone: one message in flight at a time.
        rows["1KiB, 1 in flight"] = await _one(bus, SIZES["1KiB"], min(200, counts["1KiB"]), 1)
        return rows
    except Exception as exc:  # an absent broker is a row of the report, not a crash
        return {"skipped": f"{type(exc).__name__}: {exc}"}
    finally:
        await bus.close()


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        "# Bus backends, one producer and one consumer, persistent confirmed publishes",
        "",
        f"Machine: {m.get('cpu_model', '?')}, {m.get('cores', '?')} cores, {m.get('platform', '?')}, "
        f"load average {m['loadavg_before']} before and {m['loadavg_after']} after; "
        f"at most {results['window']} publishes awaiting confirmation at once (latency includes the "
        "wait in that window), and one at a time for the unloaded latency row. The memory bus hands "
        "the (immutable) bytes over without a copy.",
        "",
        "| backend | size | messages | msgs/s | MB/s | p50 ms | p99 ms |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, rows in results["backends"].items():
        if "skipped" in rows:
            lines.append(f"| {name} | - | - | skipped: {rows['skipped']} | | | |")
            continue
        for label, r in rows.items():
            lines.append(
                f"| {name} | {label} | {r['messages']} | {r['msgs_per_s']} | {r['mb_per_s']} "
                f"| {r['p50_ms']} | {r['p99_ms']} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m silobridge.bench.bus", description=__doc__)
    parser.add_argument("--out-dir", default="bench-results")
    parser.add_argument("--backends", default="memory,rabbitmq,pulsar")
    parser.add_argument("--small", type=int, default=2000, help="1 KiB messages per backend")
    parser.add_argument("--large", type=int, default=100, help="1 MiB messages per backend")
    parser.add_argument("--window", type=int, default=32, help="concurrent unconfirmed publishes")
    args = parser.parse_args(argv)
    urls = _default_urls()
    counts = {"1KiB": args.small, "1MiB": args.large}
    results: dict[str, Any] = {"machine": machine.describe(), "window": args.window, "backends": {}}
    results["machine"]["loadavg_before"] = [round(v, 2) for v in os.getloadavg()]
    for name in [b for b in args.backends.split(",") if b]:
        if name not in urls:
            parser.error(f"unknown backend {name!r}: choose from {', '.join(urls)}")
        print(f"[bench] bus: {name}", file=sys.stderr, flush=True)
        results["backends"][name] = asyncio.run(_backend(name, urls[name], counts, args.window))
    results["machine"]["loadavg_after"] = [round(v, 2) for v in os.getloadavg()]
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bus.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    md = markdown(results)
    (out / "bus.md").write_text(md, encoding="utf-8")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
