"""Helpers of the router integration tests (a unique module name: importable beside other conftests)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rollsite_router import chunking
from rollsite_router.grpc_gateway import PeerLink
from rollsite_router.routes import RouteTable
from rollsite_router.service import RouterService
from rollsite_router.signing import Signer
from rollsite_router.tls import TlsMaterial
from silobridge import topics
from silobridge.bus.base import Message
from silobridge.bus.memory import MemoryBus
from silobridge.federation.bus_transport import build_envelope
from silobridge.federation.v1 import envelope_pb2 as env_pb
from silobridge.observability.metrics import ServiceMetrics
from silobridge.router.v1 import router_pb2

A, B, C = 9999, 10000, 10001
SESSION_JOB = "job1"
SESSION = f"{SESSION_JOB}.lr.1"


@dataclass
class Party:
    party_id: int
    service: RouterService
    bus: MemoryBus
    metrics: ServiceMetrics
    received: asyncio.Queue[Message] = field(default_factory=asyncio.Queue)

    def metric(self, name: str, **labels: str) -> float:
        value = self.metrics.registry.get_sample_value(name, labels)
        return value or 0.0

    async def send(self, envelope: env_pb.Envelope) -> None:
        await self.bus.publish(topics.ROUTER_OUTBOUND, envelope.SerializeToString())

    async def admit(self, job_id: str, admission: int = router_pb2.JOB_ADMISSION_OPEN) -> None:
        """What flow does when this party accepts (OPEN) or ends (CLOSED) a job; waits for the router."""
        update = router_pb2.JobAdmissionUpdate(job_id=job_id, admission=admission)  # type: ignore[arg-type]
        await self.bus.publish(topics.ROUTER_JOBS, update.SerializeToString())
        want = "open" if admission == router_pb2.JOB_ADMISSION_OPEN else "closed"
        await wait_for(lambda: self.service.admissions.state(job_id) == want)

    async def listen(self, pattern: str, group: str) -> None:
        """Consume ``group`` into ``received`` (subscribing after delivery must still see it)."""
        await self.bus.subscribe(pattern, self._collect, group=group)

    async def _collect(self, msg: Message) -> None:
        await self.received.put(msg)


def fed_envelope(src: int, dst: int, payload: bytes, *, name: str = "w", tag: str = "0") -> env_pb.Envelope:
    return build_envelope(
        src_party=src,
        src_role="guest",
        dst_party=dst,
        dst_role="host",
        channel=env_pb.CHANNEL_FEDERATION,
        payload=payload,
        session=SESSION,
        name=name,
        tag=tag,
    )


def signed_split(envelope: env_pb.Envelope, chunk_bytes: int, key_pem: bytes) -> list[env_pb.Envelope]:
    """The chunks a sending router writes: split, stamped with the send time and signed."""
    chunks = chunking.split(envelope, chunk_bytes)
    Signer(key_pem).sign(chunks, time.time_ns())
    return chunks


async def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


def mesh(*parties: Party) -> None:
    """Every router routes to (and accepts) every other one."""
    for p in parties:
        others = {q.party_id: ("127.0.0.1", q.service.port) for q in parties if q is not p}
        p.service.set_route_table(RouteTable.build(p.party_id, others))


def router_process_env(
    pki_dir: Path, tmp_path: Path, party: int, peer: int, peer_port: int = 9
) -> dict[str, str]:
    """The environment of a router process of ``party`` with one route, to ``peer``."""
    routes = tmp_path / "routes.yaml"
    routes.write_text(f"self: {party}\nroutes:\n  {peer}: {{host: 127.0.0.1, port: {peer_port}}}\n")
    return {
        **os.environ,
        "SILOBRIDGE_PARTY_ID": str(party),
        "SILOBRIDGE_CERT_DIR": str(pki_dir),
        "SILOBRIDGE_ROUTE_TABLE": str(routes),
        "SILOBRIDGE_BUS_URL": "memory://router-test",
        "SILOBRIDGE_DATA_DIR": str(tmp_path / "data"),
    }


def raw_link(to: Party, tls: TlsMaterial, *, max_message_bytes: int = 2 * 1024 * 1024) -> PeerLink:
    """A raw stream to ``to``'s router with ``tls``'s certificate: what a (hostile) peer router writes."""
    return PeerLink(
        peer_party=to.party_id,
        target=f"127.0.0.1:{to.service.port}",
        server_name=f"party-{to.party_id}",
        tls=tls,
        max_message_bytes=max_message_bytes,
        connect_timeout_s=2,
    )
