"""SIGTERM in the middle of traffic: the router process exits 0, and nothing it acknowledged is lost.

A router process (``router_recording_main.py``: the real entry point, recording what it publishes)
receives multi-chunk messages from several senders at once and is sent SIGTERM while they write.
Each time it must exit 0 (no crash, no hang), every sender's stream must end cleanly (the send
returns or raises RetryableError), and every message whose chunks were all acked must have been
published on the router's bus. Repeated ``SIGTERM_ROUNDS`` times.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from router_itest_helpers import A, B, fed_envelope, router_process_env, signed_split

from rollsite_router.grpc_gateway import PeerLink
from rollsite_router.tls import load_tls
from silobridge import pki
from silobridge.errors import RetryableError
from silobridge.service import ExitCode
from silobridge_cli.demo import free_port

SIGTERM_ROUNDS = 50
SENDERS = 3
CHUNK = 16 * 1024
HARNESS = Path(__file__).with_name("router_recording_main.py")


@dataclass
class Counts:
    confirmed: set[str] = field(default_factory=set)
    broken: int = 0  # sends that ended with RetryableError: the stream was cut under them
    crashes: list[str] = field(default_factory=list)
    lost: set[str] = field(default_factory=set)


async def _send_until(
    link: PeerLink, rng: random.Random, stop: asyncio.Event, counts: Counts, key: bytes
) -> None:
    while not stop.is_set():
        env = fed_envelope(A, B, rng.randbytes(rng.choice((100, CHUNK * 3 + 5))))
        try:
            await link.send(signed_split(env, CHUNK, key), ack_timeout_s=10)
        except RetryableError:
            counts.broken += 1
            await asyncio.sleep(0.02)
        else:
            counts.confirmed.add(env.message_id)


async def _read_published(stream: asyncio.StreamReader, into: set[str]) -> None:
    while line := await stream.readline():
        word, _, message_id = line.decode().strip().partition(" ")
        if word == "published":
            into.add(message_id)


async def _read_log(stream: asyncio.StreamReader, ready: asyncio.Event, tail: list[str]) -> None:
    """Drain the JSON log (a full pipe would block the router); keep its end for the report."""
    while line := await stream.readline():
        text = line.decode(errors="replace")
        tail[:] = [*tail[-20:], text]
        if text.startswith("{") and json.loads(text).get("event") == "ready":
            ready.set()


async def _one_round(
    env: dict[str, str], port: int, pki_dir: Path, rng: random.Random, counts: Counts
) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(HARNESS),
        env={**env, "SILOBRIDGE_LISTEN_PORT": str(port)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    published: set[str] = set()
    stderr_tail: list[str] = []
    ready = asyncio.Event()
    readers = [
        asyncio.create_task(_read_published(proc.stdout, published)),
        asyncio.create_task(_read_log(proc.stderr, ready, stderr_tail)),
    ]
    tls = load_tls(
        pki.ca_files(pki_dir).cert,
        pki.party_files(pki_dir, A).cert,
        pki.party_files(pki_dir, A).key,
        party_id=A,
    )
    links = [
        PeerLink(
            peer_party=B,
            target=f"127.0.0.1:{port}",
            server_name=f"party-{B}",
            tls=tls,
            max_message_bytes=CHUNK + 64 * 1024,
            connect_timeout_s=5,
        )
        for _ in range(SENDERS)
    ]
    stop = asyncio.Event()
    before = set(counts.confirmed)
    senders: list[asyncio.Task[None]] = []
    try:
        async with asyncio.timeout(60):
            await asyncio.wait(
                {readers[1], asyncio.ensure_future(ready.wait())}, return_when="FIRST_COMPLETED"
            )
        assert ready.is_set(), f"router exited before it was ready: {''.join(stderr_tail)[-2000:]}"
        senders = [asyncio.create_task(_send_until(link, rng, stop, counts, tls.key)) for link in links]
        await asyncio.sleep(rng.uniform(0.1, 0.4))  # traffic is flowing
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            code = await proc.wait()
            await asyncio.gather(*readers)
        stop.set()
        async with asyncio.timeout(30):  # every sender's stream ended: returned or RetryableError
            await asyncio.gather(*senders)
        if code != ExitCode.OK:
            counts.crashes.append(f"exit {code}: {''.join(stderr_tail)[-2000:]}")
        counts.lost |= (counts.confirmed - before) - published
    finally:
        stop.set()
        for task in senders:
            task.cancel()
        for link in links:
            await link.close()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        for task in readers:
            task.cancel()


@pytest.mark.slow
@pytest.mark.multiprocess
@pytest.mark.timeout(1200)  # 50 process starts: about 3 s each on an idle machine, more under load
async def test_sigterm_under_traffic_never_crashes_or_loses_acked_messages(
    pki_dir: Path, tmp_path: Path
) -> None:
    env = {**router_process_env(pki_dir, tmp_path, B, A), "SILOBRIDGE_HTTP_PORT": "0"}
    rng = random.Random(8)
    counts = Counts()
    started = time.monotonic()
    for _ in range(SIGTERM_ROUNDS):
        await _one_round(env, free_port(), pki_dir, rng, counts)
    print(
        f"SIGTERM under traffic: {SIGTERM_ROUNDS} terminations in {time.monotonic() - started:.0f}s, "
        f"{len(counts.crashes)} crashes, {len(counts.confirmed)} messages confirmed, "
        f"{len(counts.lost)} lost, {counts.broken} sends cut by the shutdown"
    )
    assert counts.crashes == []
    assert counts.lost == set()
    assert len(counts.confirmed) >= SIGTERM_ROUNDS  # traffic really flowed in every round
    assert counts.broken >= 1  # and SIGTERM really landed on streams in use
