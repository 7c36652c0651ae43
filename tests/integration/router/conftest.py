"""Fixtures: several parties' routers in one process, own MemoryBus each, certificates from silobridge.pki."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from router_itest_helpers import SESSION_JOB, A, B, C, Party

from rollsite_router.routes import RouteTable
from rollsite_router.service import RouterService
from rollsite_router.settings import RouterSettings
from silobridge import pki
from silobridge.bus.memory import MemoryBus
from silobridge.observability.metrics import InstrumentedBus, ServiceMetrics


@pytest.fixture
def pki_dir(tmp_path: Path) -> Path:
    d = tmp_path / "pki"
    pki.create_ca(d)
    for party in (A, B, C):
        pki.issue_party_cert(d, party)
    return d


RouterFactory = Callable[..., Awaitable[Party]]


@pytest.fixture
async def make_router(pki_dir: Path, tmp_path: Path) -> AsyncIterator[RouterFactory]:
    """``await make_router(party_id, **settings)``: a started router; stopped at teardown.

    Each party keeps its data dir across restarts within a test; flow's OPEN for the jobs in
    ``admit`` (default: the job of ``SESSION``) is published on its bus, as flow would.
    """
    started: list[Party] = []

    async def factory(
        party_id: int,
        *,
        route_table: RouteTable | None = None,
        admit: tuple[str, ...] = (SESSION_JOB,),
        **overrides: Any,
    ) -> Party:
        values: dict[str, Any] = {
            "party_id": party_id,
            "cert_dir": pki_dir,
            "data_dir": tmp_path / "router-data" / str(party_id),
            "listen_host": "127.0.0.1",
            "listen_port": 0,
            "connect_timeout_s": 1.0,
            "ack_timeout_s": 5.0,
            "send_retry_s": 1.0,
            "retry_initial_backoff_s": 0.05,
            "retry_max_backoff_s": 0.2,
            "outbound_max_deliveries": 3,
        }
        values.update(overrides)
        settings = RouterSettings(**values)
        bus = MemoryBus()
        await bus.start()
        metrics = ServiceMetrics("rollsite-router", party_id)
        service = RouterService(settings, InstrumentedBus(bus, metrics), metrics, route_table=route_table)
        await service.start()
        party = Party(party_id, service, bus, metrics)
        started.append(party)
        for job_id in admit:
            await party.admit(job_id)
        return party

    yield factory
    for party in reversed(started):
        with contextlib.suppress(Exception):
            await party.service.stop()
        await party.bus.close()
