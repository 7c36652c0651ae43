"""``python -m rollsite_router.bench_router`` (``make bench-router``): the router path against the
wire, side by side in one run.

Two parties, each its own OS process pair on loopback, with the project's own certificates:
- *raw*: a TLS 1.3 socket with mutual authentication (Python's ``ssl``, the same party
  certificates), length-prefixed frames; the floor any router path pays;
- *router*: the whole path a component's value takes, bus -> router -> router -> bus. The sender
  publishes envelopes on its party's memory bus, its router signs, chunks and streams them over
  gRPC + mTLS, the receiving router checks and publishes them, and a subscriber takes them off
  the receiving party's bus.

For 1 MiB and 1 KiB payloads: MB/s and messages/s sending as fast as the path takes them, and
the one-way latency (p50/p99, from the sender's publish to the receiver's handler) of messages
sent one at a time. Rounds alternate raw and router; the median round counts. The machine and
its load are written next to the figures (bench-results/router.{json,md}).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import socket
import ssl
import statistics
import struct
import tempfile
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from silobridge import pki, topics
from silobridge.bench.machine import describe
from silobridge.federation.bus_transport import build_envelope
from silobridge.federation.v1 import envelope_pb2 as env_pb

SENDER, RECEIVER = 9999, 10000
JOB = "benchrouter"
SESSION = f"{JOB}.bench.1"
MIB = 1024 * 1024
#: (payload bytes, messages per throughput round, messages per latency round)
SIZES = ((MIB, 192, 40), (1024, 4000, 300))
LATENCY_GAP_S = 0.004
ROUND_TIMEOUT_S = 300.0
_FRAME = struct.Struct("!I")
_STAMP = struct.Struct("!q")


def _latency_ms(payload: bytes | bytearray) -> float:
    sent: int = _STAMP.unpack_from(payload)[0]
    return (time.monotonic_ns() - sent) / 1e6


class _Count:
    """Counts received payloads (from any thread); ``done`` is set at ``want``, with the one-way
    latencies collected."""

    def __init__(self) -> None:
        self.want = 0
        self.got = 0
        self.latencies: list[float] = []
        self.done = threading.Event()

    def expect(self, want: int) -> threading.Event:
        self.want, self.got, self.latencies = want, 0, []
        self.done = threading.Event()
        return self.done

    def add(self, payload: bytes | bytearray) -> None:
        self.latencies.append(_latency_ms(payload))
        self.got += 1
        if self.got >= self.want:
            self.done.set()


# --- raw mutual-TLS socket -------------------------------------------------------------------


def _tls_context(certs: Path, party: int, *, server: bool) -> ssl.SSLContext:
    files = pki.party_files(certs, party)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(files.cert, files.key)
    ctx.load_verify_locations(pki.ca_files(certs).cert)
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def _read_into(sock: ssl.SSLSocket, view: memoryview) -> bool:
    while view:
        n = sock.recv_into(view)
        if not n:
            return False
        view = view[n:]
    return True


async def _raw_receiver(certs: Path, conn: Connection, largest: int) -> None:
    """Blocking reads into one buffer on a thread: the cheapest way Python has to take TLS bytes."""
    count = _Count()
    listener = socket.create_server(("127.0.0.1", 0))
    ctx = _tls_context(certs, RECEIVER, server=True)

    def serve() -> None:
        sock, _ = listener.accept()
        with ctx.wrap_socket(sock, server_side=True) as tls:
            head = bytearray(_FRAME.size)
            buf = bytearray(largest)
            while _read_into(tls, memoryview(head)):
                size = _FRAME.unpack(head)[0]
                if not _read_into(tls, memoryview(buf)[:size]):
                    return
                count.add(buf)

    reader = threading.Thread(target=serve, daemon=True)
    reader.start()
    conn.send(listener.getsockname()[1])
    await _serve_rounds(conn, count)
    listener.close()


async def _raw_sender(certs: Path, port: int, closers: list[Callable[[], Any]]) -> Callable[[bytes], Any]:
    ctx = _tls_context(certs, SENDER, server=False)
    tls = ctx.wrap_socket(
        socket.create_connection(("127.0.0.1", port)), server_hostname=pki.party_name(RECEIVER)
    )
    closers.append(tls.close)

    async def send(payload: bytes) -> None:
        tls.sendall(_FRAME.pack(len(payload)))
        tls.sendall(payload)

    return send


# --- the router path: bus -> router -> router -> bus -------------------------------------------


async def _router(certs: Path, data: Path, party: int, routes: dict[int, tuple[str, int]]) -> Any:
    from rollsite_router.routes import RouteTable
    from rollsite_router.service import RouterService
    from rollsite_router.settings import RouterSettings
    from silobridge.bus.memory import MemoryBus
    from silobridge.observability.metrics import InstrumentedBus, ServiceMetrics
    from silobridge.router.v1 import router_pb2

    settings = RouterSettings.model_validate(
        {
            "party_id": party,
            "cert_dir": certs,
            "data_dir": data / str(party),
            "listen_host": "127.0.0.1",
            "listen_port": 0,
        }
    )
    bus = MemoryBus()
    await bus.start()
    metrics = ServiceMetrics("rollsite-router", party)
    table = RouteTable.build(party, routes)
    service = RouterService(settings, InstrumentedBus(bus, metrics), metrics, route_table=table)
    await service.start()
    update = router_pb2.JobAdmissionUpdate(job_id=JOB, admission=router_pb2.JOB_ADMISSION_OPEN)
    await bus.publish(topics.ROUTER_JOBS, update.SerializeToString())
    while service.admissions.state(JOB) != "open":
        await asyncio.sleep(0.01)
    return service, bus


async def _router_receiver(certs: Path, data: Path, conn: Connection) -> None:
    from silobridge.bus.base import Message

    # the route back is never used: it puts the sender in this router's ACL
    service, bus = await _router(certs, data, RECEIVER, {SENDER: ("127.0.0.1", 9)})
    count = _Count()

    async def handle(msg: Message) -> None:
        env = env_pb.Envelope()
        env.ParseFromString(msg.body)
        count.add(env.payload)

    await bus.subscribe(topics.fed_pattern(SESSION), handle, group=topics.fed_group(SESSION))
    conn.send(service.port)
    await _serve_rounds(conn, count)
    await service.stop()
    await bus.close()


async def _router_sender(
    certs: Path, data: Path, port: int, closers: list[Callable[[], Any]]
) -> Callable[[bytes], Any]:
    service, bus = await _router(certs, data, SENDER, {RECEIVER: ("127.0.0.1", port)})
    closers += [service.stop, bus.close]

    async def send(payload: bytes) -> None:
        env = build_envelope(
            src_party=SENDER, src_role="guest", dst_party=RECEIVER, dst_role="host",
            channel=env_pb.CHANNEL_FEDERATION, payload=payload, session=SESSION, name="x", tag="0",
        )  # fmt: skip
        await bus.publish(topics.ROUTER_OUTBOUND, env.SerializeToString())

    return send


# --- rounds ------------------------------------------------------------------------------------


async def _serve_rounds(conn: Connection, count: _Count) -> None:
    """The receiver's side of the control pipe: ``("expect", n)`` -> ``("ready", None)``, then
    ``(cpu_seconds, latencies)`` once all ``n`` arrived."""
    loop = asyncio.get_running_loop()
    while True:
        verb, n = await loop.run_in_executor(None, conn.recv)
        if verb == "stop":
            return
        done = count.expect(n)
        cpu = time.process_time()
        conn.send(("ready", None))
        await loop.run_in_executor(None, done.wait)
        conn.send((time.process_time() - cpu, count.latencies))


def _receiver_main(kind: str, certs: str, data: str, conn: Connection, largest: int) -> None:
    if kind == "raw":
        asyncio.run(_raw_receiver(Path(certs), conn, largest))
    else:
        asyncio.run(_router_receiver(Path(certs), Path(data), conn))


async def _round(
    conn: Connection, send: Callable[[bytes], Any], size: int, n: int, *, gap_s: float
) -> tuple[float, list[float], tuple[float, float]]:
    """Seconds from the first send until the receiver has all ``n``, the one-way latencies, and
    the CPU seconds the sending and the receiving process spent meanwhile (all their threads)."""
    loop = asyncio.get_running_loop()
    conn.send(("expect", n))
    await loop.run_in_executor(None, conn.recv)  # ("ready", None): counting from zero
    payloads = [os.urandom(size) for _ in range(min(n, 8))]
    cpu = time.process_time()
    t0 = time.perf_counter()
    for i in range(n):
        body = payloads[i % len(payloads)]
        await send(_STAMP.pack(time.monotonic_ns()) + body[_STAMP.size :])
        if gap_s:
            await asyncio.sleep(gap_s)
    if not await loop.run_in_executor(None, conn.poll, ROUND_TIMEOUT_S):
        raise TimeoutError(f"the receiver did not get {n} messages of {size} B within {ROUND_TIMEOUT_S:.0f}s")
    receiver_cpu, latencies = conn.recv()
    return time.perf_counter() - t0, latencies, (time.process_time() - cpu, receiver_cpu)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _measure(
    certs: Path, data: Path, rounds: int, sizes: tuple[tuple[int, int, int], ...]
) -> list[dict[str, Any]]:
    ctx = mp.get_context("spawn")
    paths: dict[str, tuple[Connection, Any, Callable[[bytes], Any]]] = {}
    procs = []
    closers: list[Callable[[], Any]] = []
    try:
        for kind in ("raw", "router"):
            parent, child = ctx.Pipe()
            proc = ctx.Process(
                target=_receiver_main,
                args=(kind, str(certs), str(data), child, max(size for size, _, _ in sizes)),
                daemon=True,
            )
            proc.start()
            procs.append((proc, parent))
            port = await asyncio.get_running_loop().run_in_executor(None, parent.recv)
            sender = (
                await _raw_sender(certs, port, closers)
                if kind == "raw"
                else await _router_sender(certs, data, port, closers)
            )
            paths[kind] = (parent, proc, sender)
        rows = []
        for size, n_tput, n_lat in sizes:
            tput: dict[str, list[float]] = {k: [] for k in paths}
            cpu: dict[str, list[tuple[float, float]]] = {k: [] for k in paths}
            lat: dict[str, list[float]] = {k: [] for k in paths}
            for r in range(rounds):
                for kind in list(paths) if r % 2 == 0 else list(reversed(paths)):
                    conn, _, send = paths[kind]
                    seconds, _, used = await _round(conn, send, size, n_tput, gap_s=0)
                    tput[kind].append(n_tput / seconds)
                    cpu[kind].append((used[0] / n_tput, used[1] / n_tput))
                    _, one_way, _ = await _round(conn, send, size, n_lat, gap_s=LATENCY_GAP_S)
                    lat[kind].extend(one_way)
            for kind in paths:
                rate = statistics.median(tput[kind])
                rows.append(
                    {
                        "path": kind,
                        "payload_bytes": size,
                        "msgs_per_s": round(rate, 1),
                        "mb_per_s": round(rate * size / 1e6, 2),
                        "p50_ms": round(_pct(lat[kind], 0.5), 3),
                        "p99_ms": round(_pct(lat[kind], 0.99), 3),
                        "sender_cpu_ms_per_msg": round(1e3 * statistics.median(c[0] for c in cpu[kind]), 3),
                        "receiver_cpu_ms_per_msg": round(1e3 * statistics.median(c[1] for c in cpu[kind]), 3),
                    }
                )
        return rows
    finally:
        for close in closers:
            done = close()
            if asyncio.iscoroutine(done):
                await done
        for proc, parent in procs:
            with contextlib.suppress(OSError):
                parent.send(("stop", 0))
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()


def run(out_dir: Path, rounds: int, sizes: tuple[tuple[int, int, int], ...] = SIZES) -> dict[str, Any]:
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        certs = Path(tmp) / "pki"
        pki.ensure_pki(certs, [SENDER, RECEIVER])
        rows = asyncio.run(_measure(certs, Path(tmp) / "data", rounds, sizes))
    by = {(r["path"], r["payload_bytes"]): r for r in rows}
    ratios = {
        str(size): round(by[("router", size)]["mb_per_s"] / by[("raw", size)]["mb_per_s"], 3)
        for size, _, _ in sizes
    }
    result: dict[str, Any] = {
        "machine": describe(),
        "load": {"before": load_before, "after": os.getloadavg()},
        "rounds": rounds,
        "rows": rows,
        "router_over_raw": ratios,
        "exchange": "not measured: exchange routing is not built (issue 15)",
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "router.json").write_text(json.dumps(result, indent=2))
    lines = [
        "| path | payload | msgs/s | MB/s | one-way p50 ms | one-way p99 ms | CPU ms/msg sender | receiver |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['path']} | {r['payload_bytes']} B | {r['msgs_per_s']} | {r['mb_per_s']} | {r['p50_ms']} | "
        f"{r['p99_ms']} | {r['sender_cpu_ms_per_msg']} | {r['receiver_cpu_ms_per_msg']} |"
        for r in rows
    ]
    lines.append("")
    lines += [f"router / raw at {size} B: {ratio}x" for size, ratio in ratios.items()]
    lines.append(f"load average before {load_before}, after {result['load']['after']}")
    (out_dir / "router.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return result


def _sizes(text: str) -> tuple[tuple[int, int, int], ...]:
    try:
        sizes = tuple(tuple(int(v) for v in part.split(":")) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not BYTES:COUNT:LATENCY_COUNT[,...]: {text!r}") from None
    if not sizes or any(len(s) != 3 or min(s) < 1 or s[0] < _STAMP.size for s in sizes):
        raise argparse.ArgumentTypeError(f"each size is BYTES>=8:COUNT>=1:LATENCY_COUNT>=1, got {text!r}")
    return sizes  # type: ignore[return-value]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per size (median)")
    parser.add_argument(
        "--sizes",
        type=_sizes,
        default=SIZES,
        help="payload bytes:messages per throughput round:messages per latency round, comma-separated",
    )
    parser.add_argument("--out", type=Path, default=Path("bench-results"))
    args = parser.parse_args(argv)
    run(args.out, args.rounds, args.sizes)


if __name__ == "__main__":
    main()
