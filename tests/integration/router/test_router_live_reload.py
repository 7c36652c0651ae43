"""A running router takes a new route table and a rotated certificate from disk without a restart:
a new peer is reachable, a broken file changes nothing, streams to unchanged peers stay open,
and new connections see the new certificate while open streams keep theirs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from router_itest_helpers import A, B, C, Party, fed_envelope, router_process_env, wait_for

from rollsite_router import peer_probe
from rollsite_router.routes import RouteTable
from rollsite_router.service import RouterService
from rollsite_router.settings import RouterSettings
from silobridge import pki, topics
from silobridge.bus.memory import MemoryBus
from silobridge.observability.metrics import InstrumentedBus, ServiceMetrics
from silobridge.service import ExitCode

SESSION = "job1.lr.1"
D = 10002  # a party that is never started


def _write_routes(path: Path, routes: dict[int, int], *, self_party: int = A) -> None:
    """``{party: port}`` on loopback, written as an operator (or ``silobridge peer``) would."""
    doc = {
        "self": self_party,
        "routes": {p: {"host": "127.0.0.1", "port": port} for p, port in routes.items()},
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(doc))
    tmp.replace(path)


@pytest.fixture
async def file_router(pki_dir: Path, tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Party]]]:
    """``await file_router(routes)``: party A's router reading its route table from a file."""
    started: list[Party] = []

    async def factory(routes: dict[int, int]) -> Party:
        table = tmp_path / "routes-a.yaml"
        _write_routes(table, routes)
        settings = RouterSettings(
            party_id=A,
            cert_dir=pki_dir,
            data_dir=tmp_path / "router-data-a",
            route_table=table,
            reload_interval_s=0.05,
            connect_timeout_s=1.0,
            send_retry_s=1.0,
            retry_initial_backoff_s=0.05,
            retry_max_backoff_s=0.2,
            outbound_max_deliveries=3,
        )
        bus = MemoryBus()
        await bus.start()
        metrics = ServiceMetrics("rollsite-router", A)
        service = RouterService(settings, InstrumentedBus(bus, metrics), metrics)
        await service.start()
        party = Party(A, service, bus, metrics)
        started.append(party)
        return party

    yield factory
    for party in started:
        with contextlib.suppress(Exception):
            await party.service.stop()
        await party.bus.close()


async def _peer(make_router: Any, party: int) -> Party:
    """A started peer router that accepts A, with a consumer of the test session."""
    p = await make_router(party)
    p.service.set_route_table(RouteTable.build(party, {A: ("127.0.0.1", 1)}))
    await p.listen(topics.fed_pattern(SESSION), topics.fed_group(SESSION))
    return p


async def _deliver(a: Party, to: Party, payload: bytes) -> None:
    await a.send(fed_envelope(A, to.party_id, payload))
    got = await asyncio.wait_for(to.received.get(), 10)
    assert got.body and payload in got.body


def _reloads(p: Party, source: str, outcome: str) -> float:
    return p.metric("silobridge_router_reloads_total", source=source, outcome=outcome)


async def test_a_new_route_is_used_without_restart_and_a_broken_file_changes_nothing(
    make_router, file_router
):
    b, c = await _peer(make_router, B), await _peer(make_router, C)
    a = await file_router({C: c.service.port})
    table = a.service.settings.route_table
    assert table is not None and a.service.route_table.endpoint_for(B) is None

    _write_routes(table, {C: c.service.port, B: b.service.port})
    await wait_for(lambda: _reloads(a, "routes", "ok") == 1)
    assert a.metric("silobridge_router_routes") == 2
    await _deliver(a, b, b"to the new peer")

    in_force = a.service.route_table
    table.write_text(f"self: {A}\nroutes:\n  {B}: {{host: 127.0.0.1, port: 0}}\n")  # port 0: refused
    await wait_for(lambda: _reloads(a, "routes", "failed") == 1)
    _write_routes(table, {C: c.service.port}, self_party=B)  # another party's table: refused
    await wait_for(lambda: _reloads(a, "routes", "failed") == 2)
    table.unlink()  # gone: refused
    await wait_for(lambda: _reloads(a, "routes", "failed") == 3)
    assert a.service.route_table is in_force
    await _deliver(a, b, b"still routed")
    assert _reloads(a, "routes", "ok") == 1


async def test_a_reload_keeps_the_streams_to_unchanged_peers_open(make_router, file_router, caplog):
    b, c = await _peer(make_router, B), await _peer(make_router, C)
    a = await file_router({B: b.service.port, C: c.service.port})
    caplog.set_level(logging.INFO, logger="rollsite_router.grpc_gateway")
    await _deliver(a, b, b"one")
    await _deliver(a, c, b"two")

    table = a.service.settings.route_table
    assert table is not None
    _write_routes(table, {B: b.service.port, C: 1, D: 2})  # C moved, D added, B unchanged
    await wait_for(lambda: _reloads(a, "routes", "ok") == 1)
    await _deliver(a, b, b"three")

    opened = [r.getMessage() for r in caplog.records if r.getMessage().startswith("stream open to party")]
    assert opened.count(f"stream open to party {B} at 127.0.0.1:{b.service.port}") == 1
    assert opened.count(f"stream open to party {C} at 127.0.0.1:{c.service.port}") == 1


async def test_a_rotated_certificate_serves_new_connections_while_open_streams_keep_theirs(
    make_router, file_router, pki_dir, caplog
):
    b, c = await _peer(make_router, B), await _peer(make_router, C)
    a = await file_router({B: b.service.port, C: c.service.port})
    caplog.set_level(logging.INFO, logger="silobridge.audit")
    await _deliver(a, b, b"before")  # the stream to B opens with the old certificate

    async def served_serial() -> int:
        peer = pki.party_files(pki_dir, B)
        der = await peer_probe.fetch_server_cert(
            f"127.0.0.1:{a.service.port}",
            server_name=f"party-{A}",
            ca=pki.ca_files(pki_dir).cert.read_bytes(),
            cert_file=peer.cert,
            key_file=peer.key,
            timeout_s=5,
        )
        return pki.peer_certificate(der).serial

    old = pki.peer_certificate(pki.party_files(pki_dir, A).cert.read_bytes())
    assert await served_serial() == old.serial
    pki.issue_party_cert(pki_dir, A)
    new = pki.peer_certificate(pki.party_files(pki_dir, A).cert.read_bytes())
    await wait_for(lambda: _reloads(a, "tls", "ok") == 1)
    assert await served_serial() == new.serial != old.serial

    await _deliver(a, b, b"after, on the open stream")  # B verifies it against the old certificate
    await _deliver(a, c, b"after, on a new stream")  # C sees the new certificate
    signed_by = [(r.dst_party, r.signer_cert_sha256) for r in caplog.records if r.event == "audit_in"]
    assert signed_by == [(B, old.sha256), (B, old.sha256), (C, new.sha256)]
    for p in (b, c):
        assert p.metric("silobridge_router_rejected_total", peer=str(A), reason="bad_signature") == 0


@pytest.mark.multiprocess
async def test_sighup_reloads_the_route_table_and_refuses_a_broken_one(pki_dir, tmp_path):
    env = router_process_env(pki_dir, tmp_path, A, B) | {"SILOBRIDGE_RELOAD_INTERVAL_S": "3600"}
    routes = tmp_path / "routes.yaml"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "rollsite_router", env=env, stderr=asyncio.subprocess.PIPE
    )
    assert proc.stderr is not None

    async def until(event: str) -> dict[str, Any]:
        while True:
            line = await asyncio.wait_for(proc.stderr.readline(), 30)  # type: ignore[union-attr]
            assert line, f"router exited before {event}"
            record = json.loads(line)
            if record.get("event") == event:
                return dict(record)

    try:
        await until("ready")
        _write_routes(routes, {B: 9, C: 10})
        proc.send_signal(signal.SIGHUP)
        assert f"added {C}" in (await until("routes_reloaded"))["msg"]
        routes.write_text(f"self: {A}\nroutes: [not, a, mapping]\n")
        proc.send_signal(signal.SIGHUP)
        assert "routes: must be a mapping" in (await until("reload_failed"))["msg"]
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == ExitCode.OK
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
