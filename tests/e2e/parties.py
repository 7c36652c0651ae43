"""Three single-process parties in one test process, each on its own memory bus, talking
through their routers over mutual TLS on loopback; every envelope leaving a party is tapped.

Each flow is authenticated: the helpers (``jobs``, ``silobridge_cli.demo.upload``) find its admin
token by URL, and every party starts with a policy that lets any peer run anything (tests of the
policy itself replace it)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from silobridge import pki, topics
from silobridge.bus.base import Message
from silobridge.federation.v1 import envelope_pb2
from silobridge_cli import credentials
from silobridge_cli.demo import free_port
from silobridge_cli.party import PartyConfig, SingleProcessParty
from silobridge_cli.policies import ALLOW_ALL, install_policy

ROLES = {"guest": 9999, "host": 10000, "arbiter": 10001}


_LOOP: asyncio.AbstractEventLoop | None = None


def shared_loop() -> asyncio.AbstractEventLoop:
    """One event loop thread for every in-process party of the test session.

    gRPC's asyncio stack binds its poller to each event loop it meets; creating and closing a
    loop per test module (while other tests run grpc.aio on their own loops) has crashed the
    interpreter, so the parties all live on this one loop until the process exits.
    """
    global _LOOP
    if _LOOP is None:
        _LOOP = asyncio.new_event_loop()
        threading.Thread(target=_LOOP.run_forever, daemon=True, name="parties-loop").start()
    return _LOOP


@dataclass
class Tapped:
    """One envelope as it left a party for another (what crossed the boundary)."""

    src: int
    dst: int
    channel: int
    name: str
    payload: bytes


@dataclass
class InProcessParties:
    root: Path
    roles: dict[str, int] = field(default_factory=lambda: dict(ROLES))
    parties: dict[int, SingleProcessParty] = field(default_factory=dict)
    wire: list[Tapped] = field(default_factory=list)
    # Settings of every party's services by service name, e.g. {"node-manager": {"bind_allow": ...}}.
    extra: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.loop = shared_loop()

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 120) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> None:
        ids = list(self.roles.values())
        certs = self.root / "certs"
        pki.ensure_pki(certs, ids)
        ports = {pid: free_port() for pid in ids}
        for pid in ids:
            routes = {
                "self": pid,
                "routes": {o: {"host": "127.0.0.1", "port": ports[o]} for o in ids if o != pid},
            }
            table = self.root / f"routes-{pid}.yaml"
            table.write_text(yaml.safe_dump(routes))
            config = PartyConfig(
                party_id=pid,
                data_dir=self.root / f"party-{pid}",
                cert_dir=certs,
                route_table=table,
                router_port=ports[pid],
                flow_port=0,
                compute_workers=2,
                extra=self.extra,
            )
            self.parties[pid] = SingleProcessParty(config)
        for pid, party in self.parties.items():
            self.run(party.start())
            self.run(party.bus.subscribe(topics.ROUTER_OUTBOUND, self._tap(pid), group="test-wire-tap"))
        for party in self.parties.values():  # tests of other behaviour: every peer may run anything
            install_policy(party.flow_url, ALLOW_ALL)

    def _tap(self, pid: int) -> Any:
        async def record(msg: Message) -> None:
            env = envelope_pb2.Envelope()
            env.ParseFromString(msg.body)
            self.wire.append(Tapped(pid, env.dst.party_id, env.channel, env.name, env.payload))

        return record

    def flow(self, role: str) -> str:
        return self.parties[self.roles[role]].flow_url

    def token(self, role: str) -> str | None:
        """The admin token of a party's flow."""
        return credentials.resolve(self.flow(role))

    def service_urls(self) -> dict[str, str]:
        return {
            f"{name}@{pid}": rs.url
            for pid, party in self.parties.items()
            for name, rs in party.services.items()
        }

    def stop(self) -> None:
        for party in self.parties.values():
            self.run(party.stop())
