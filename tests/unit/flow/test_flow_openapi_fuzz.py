"""schemathesis against flow's OpenAPI: every route, with generated valid and invalid inputs,
with an admin token and without one. Every answer must be a documented status code with a body
that matches the spec, never a 500; without a token every /v1 route answers 401.

Flow runs for real (its store, coordinator and REST API) over a fake cluster-manager and
node-manager (``flow_support``), on an event loop thread of its own, served by uvicorn on
loopback; schemathesis calls it over HTTP.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from flow_support import FakeParty
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from flow.service import FlowService
from flow.settings import FlowSettings
from silobridge.bus.memory import MemoryBus
from silobridge.observability.http import HttpServer
from silobridge.observability.metrics import InstrumentedBus, ServiceMetrics

pytestmark = [pytest.mark.slow]

GUEST, HOST = 9999, 10000
EXAMPLES = 30  # per route and pass: the whole run stays well under a minute
ADMIN_TOKEN = secrets.token_urlsafe(32)  # flow's admin token (SILOBRIDGE_ADMIN_TOKEN_FILE)


def _settings(data_dir: Path) -> FlowSettings:
    return FlowSettings(
        party_id=GUEST,
        data_dir=data_dir,
        admin_token_file=data_dir / "admin-token",
        known_parties=[GUEST, HOST],
        rpc_timeout_s=1.0,
        upload_timeout_s=1.0,
        max_upload_bytes=64 * 1024,
    )


def _spec() -> dict[str, Any]:
    """The spec a flow serves (built before any start: the routes do not need the store)."""
    metrics = ServiceMetrics("flow", GUEST)
    flow = FlowService(_settings(Path("unused")), MemoryBus("memory://spec"), metrics)
    return dict(flow.app.openapi())  # type: ignore[attr-defined]


def _config(token: str | None) -> SchemathesisConfig:
    """Every check on; a schema-valid body may still be refused with 400 for what a schema cannot
    say (a CSV without its id column, a job naming an unknown party, an unknown role)."""
    doc: dict[str, Any] = {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "400", "401", "403", "404", "409", "413", "422", "5xx"]
            }
        }
    }
    if token is not None:
        doc["auth"] = {"openapi": {"HTTPBearer": {"bearer": token}}}
    return SchemathesisConfig.from_dict(doc)


SPEC = _spec()
with_token = schemathesis.openapi.from_dict(SPEC, config=_config(ADMIN_TOKEN))
without_token = schemathesis.openapi.from_dict(SPEC, config=_config(None))


class Served:
    """A started flow (and its fakes) on a loop thread, behind uvicorn on loopback."""

    def __init__(self, root: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="openapi-flow")
        self.thread.start()
        self.root = root

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    async def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "admin-token").write_text(ADMIN_TOKEN)
        self.party = FakeParty(GUEST, tables=("demo.guest",))
        await self.party.start()
        metrics = ServiceMetrics("flow", GUEST)
        self.flow = FlowService(_settings(self.root), InstrumentedBus(self.party.bus, metrics), metrics)
        await self.flow.start()
        self.http = HttpServer(self.flow.app, "127.0.0.1", 0)
        await self.http.start()

    def requests(self) -> str:
        """How many requests flow answered, by status (its own API latency histogram)."""
        counts: dict[str, int] = {}
        for metric in self.flow.metrics.registry.collect():
            for sample in metric.samples:
                if sample.name == "silobridge_flow_api_request_seconds_count":
                    status = sample.labels["status"]
                    counts[status] = counts.get(status, 0) + int(sample.value)
        return f"{sum(counts.values())} requests; by status " + ", ".join(
            f"{k}: {v}" for k, v in sorted(counts.items())
        )

    async def stop(self) -> None:
        await self.http.stop()
        await self.flow.stop()
        await self.party.close()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    s = Served(Path(tmp_path_factory.mktemp("openapi")))
    try:
        s.run(s.start())
        yield s
        print(f"\nschemathesis against flow: {s.requests()}")
        s.run(s.stop())
    finally:
        s.close()


FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)


@with_token.parametrize()
@FUZZ
def test_every_route_with_an_admin_token(served: Served, case: schemathesis.Case) -> None:
    response = case.call_and_validate(base_url=served.http.url)
    assert response.status_code < 500 or response.status_code in (503, 504), response.text


@without_token.parametrize()
@FUZZ
def test_every_route_without_a_token_is_a_documented_401(served: Served, case: schemathesis.Case) -> None:
    case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    response = case.call_and_validate(base_url=served.http.url)
    if case.path.startswith("/v1") and case.method.upper() == case.operation.method.upper():
        assert response.status_code == 401, (case.method, case.path, response.text)
        assert response.json()["error"]["code"] == "unauthenticated"
