"""Stress: gRPC servers and peer streams opened, used and torn down concurrently, loop after loop.

Each round runs in a fresh event loop (``asyncio.run``), as the test suite and a restarted service
do: two inbound servers, several peer links writing multi-chunk messages at once, and in the
middle of that traffic sends are cancelled, links are closed under in-flight writes, and a server
is stopped and started again on the same port. Whatever happens, a send either returns with
every chunk acked or raises RetryableError (or was cancelled by the test), and every message a
sender saw confirmed reached the receiving server's handler.

The rounds repeat for ``SILOBRIDGE_SOAK_SECONDS`` (default 4 s), so that ``make soak`` can run
the same test for minutes; a crash of grpc.aio kills the interpreter, which pytest reports.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

from router_itest_helpers import A, B, C, fed_envelope
from soak_budget import soak_seconds

from rollsite_router import chunking
from rollsite_router.grpc_gateway import GatewayServer, PeerInfo, PeerLink
from rollsite_router.protocol import ok_ack
from rollsite_router.tls import TlsMaterial, load_tls
from silobridge import pki
from silobridge.errors import RetryableError
from silobridge.federation.v1 import envelope_pb2 as env_pb
from silobridge.router.v1 import router_pb2

CHUNK = 16 * 1024
MAX_MESSAGE = CHUNK + 64 * 1024


def tls_of(pki_dir: Path, party: int) -> TlsMaterial:
    ca, files = pki.ca_files(pki_dir), pki.party_files(pki_dir, party)
    return load_tls(ca.cert, files.cert, files.key, party_id=party)


@dataclass
class Receiver:
    """Records the chunks its server handled; sometimes slow, to keep streams in flight."""

    rng: random.Random
    chunks: set[tuple[str, int]] = field(default_factory=set)

    async def handle(self, peer: PeerInfo, chunk: env_pb.Envelope) -> router_pb2.Ack:
        if self.rng.random() < 0.2:
            await asyncio.sleep(self.rng.uniform(0, 0.02))
        self.chunks.add((chunk.message_id, chunk.chunk_index))
        return ok_ack(chunk)


@dataclass
class Tally:
    confirmed: list[list[env_pb.Envelope]] = field(default_factory=list)
    retryable: int = 0
    cancelled: int = 0


async def _sender(link: PeerLink, rng: random.Random, tally: Tally, until: float) -> None:
    while time.monotonic() < until:
        payload = rng.randbytes(rng.choice((10, CHUNK * 3 + 7, CHUNK * 8)))
        chunks = chunking.split(fed_envelope(A, link.peer_party, payload), CHUNK)
        try:
            await link.send(chunks, ack_timeout_s=10)
        except RetryableError:
            tally.retryable += 1
            await asyncio.sleep(0.01)
        else:
            tally.confirmed.append(chunks)


def _link(dst: int, port: int, tls: TlsMaterial) -> PeerLink:
    return PeerLink(
        peer_party=dst,
        target=f"127.0.0.1:{port}",
        server_name=f"party-{dst}",
        tls=tls,
        max_message_bytes=MAX_MESSAGE,
        connect_timeout_s=2,
    )


async def _round(pki_dir: Path, seed: int) -> Tally:
    rng = random.Random(seed)
    tls = {p: tls_of(pki_dir, p) for p in (A, B, C)}
    receivers = {p: Receiver(rng) for p in (B, C)}
    servers: dict[int, GatewayServer] = {}
    ports: dict[int, int] = {}
    for p in (B, C):
        servers[p] = GatewayServer(
            receivers[p].handle, host="127.0.0.1", port=0, tls=tls[p], max_message_bytes=MAX_MESSAGE
        )
        ports[p] = await servers[p].start()
    tally = Tally()
    links = [_link(dst, ports[dst], tls[A]) for dst in (B, C, B, C)]
    until = time.monotonic() + 0.6
    senders = [
        asyncio.create_task(_sender(link, rng, tally, until), name=f"sender-{i}")
        for i, link in enumerate(links)
    ]
    try:
        await asyncio.sleep(rng.uniform(0.05, 0.2))
        # cancel one sender in the middle of its writes/acks
        senders[0].cancel()
        await asyncio.sleep(rng.uniform(0, 0.05))
        # close a link under an in-flight send: the sender sees RetryableError, then reconnects
        await links[1].close()
        await asyncio.sleep(rng.uniform(0, 0.05))
        # stop B's server with streams open, then start it again on the same port
        await servers[B].stop(grace_s=rng.choice((0.0, 0.05)))
        await asyncio.sleep(rng.uniform(0, 0.05))
        servers[B] = GatewayServer(
            receivers[B].handle, host="127.0.0.1", port=ports[B], tls=tls[B], max_message_bytes=MAX_MESSAGE
        )
        await servers[B].start()
        results = await asyncio.gather(*senders, return_exceptions=True)
        for result in results:
            if isinstance(result, asyncio.CancelledError):
                tally.cancelled += 1
            elif isinstance(result, BaseException):
                raise result
    finally:
        for task in senders:
            task.cancel()
        await asyncio.gather(*senders, return_exceptions=True)
        # an abrupt end on half the rounds: servers first, links after; otherwise links first
        if seed % 2:
            for server in servers.values():
                await server.stop(grace_s=0)
            for link in links:
                await link.close()
        else:
            for link in links:
                await link.close()
            for server in servers.values():
                await server.stop(grace_s=0)
    received = receivers[B].chunks | receivers[C].chunks
    for chunks in tally.confirmed:
        missing = [
            (c.message_id, c.chunk_index) for c in chunks if (c.message_id, c.chunk_index) not in received
        ]
        assert not missing, f"confirmed but never handled: {missing}"
    return tally


def test_servers_and_streams_churn_across_event_loops(pki_dir: Path) -> None:
    deadline = time.monotonic() + soak_seconds(4.0)
    rounds, confirmed, retried = 0, 0, 0
    while rounds < 2 or time.monotonic() < deadline:
        tally = asyncio.run(_round(pki_dir, seed=rounds))
        rounds += 1
        confirmed += len(tally.confirmed)
        retried += tally.retryable
    # traffic really flowed, and the teardowns really broke streams under it
    assert confirmed > rounds
    assert retried >= 1
    print(f"grpc churn: {rounds} rounds, {confirmed} messages confirmed, {retried} retryable failures")
