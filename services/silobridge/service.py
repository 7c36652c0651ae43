"""What every service process shares: lifecycle, signals, exit codes, bus + metrics wiring.

A service implements :class:`Service`. ``run_service`` starts it with its HTTP face
(/healthz, /readyz, /metrics), waits for SIGTERM/SIGINT, then stops taking work, drains and
closes, and returns an :class:`ExitCode`.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import enum
import logging
import signal
from collections.abc import Callable, Sequence

from starlette.routing import BaseRoute

from silobridge.bus.base import Bus, Subscription
from silobridge.bus.factory import create_bus
from silobridge.config import CommonSettings, SettingsError
from silobridge.migrations import SchemaTooNew
from silobridge.observability.http import HttpServer, make_app
from silobridge.observability.metrics import InstrumentedBus, ServiceMetrics

log = logging.getLogger(__name__)


class ExitCode(enum.IntEnum):
    OK = 0  # stopped by SIGTERM/SIGINT after draining
    CRASHED = 1  # unexpected error while running
    BAD_SETTINGS = 2  # a SILOBRIDGE_* variable is invalid (the message names it)
    STARTUP_FAILED = 3  # could not reach the bus/DB or bind a port


class Service(abc.ABC):
    """One silobridge service. ``start`` begins taking work; ``stop`` drains and releases."""

    name: str = "service"

    def __init__(self, settings: CommonSettings, bus: Bus, metrics: ServiceMetrics) -> None:
        self.settings = settings
        self.bus = bus
        self.metrics = metrics
        self._ready = False

    @abc.abstractmethod
    async def start(self) -> None: ...

    @abc.abstractmethod
    async def stop(self) -> None: ...

    def ready(self) -> bool:
        return self._ready

    def routes(self) -> Sequence[BaseRoute]:
        """Extra HTTP routes beside /healthz, /readyz, /metrics."""
        return ()


async def stop_consuming(subs: list[Subscription]) -> None:
    """First step of every ``stop``: take no more messages (unacked ones go back to the bus)."""
    taken = list(subs)
    subs.clear()
    for sub in taken:
        await sub.cancel()


async def stop_background(task: asyncio.Task[None] | None) -> None:
    """Cancel a service's background loop (watchdog, heartbeats, sweeper) and wait for it."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def instrumented_bus(settings: CommonSettings, metrics: ServiceMetrics) -> Bus:
    return InstrumentedBus(create_bus(settings.bus_url, prefix=settings.prefix), metrics)


class ServiceHost:
    """One service with its HTTP face (/healthz, /readyz, /metrics): started and stopped together.

    Used by ``run_service`` (a service in its own process) and by the single-process party
    (four services around one in-process bus, which the party starts and closes itself).
    """

    def __init__(self, service: Service) -> None:
        self.service = service
        s = service.settings
        app = make_app(service.name, service.metrics.registry, service.ready, service.routes())
        self.http = HttpServer(app, s.http_host, s.http_port)

    @property
    def url(self) -> str:
        return self.http.url

    def _up(self, value: int) -> None:
        m = self.service.metrics
        m.up.labels(m.service, m.party).set(value)

    async def start(self) -> None:
        await self.service.start()
        await self.http.start()
        self._up(1)
        log.info("%s ready", self.service.name, extra={"event": "ready", "port": self.http.port})

    async def stop(self) -> None:
        """Stop taking work, drain, close; errors are logged so that every step runs."""
        self._up(0)
        for step in (self.service.stop, self.http.stop):
            try:
                await step()
            except Exception:
                log.exception("error while stopping %s", self.service.name)


async def run_service(service: Service, *, stop_event: asyncio.Event | None = None) -> ExitCode:
    """Run until SIGTERM/SIGINT (or ``stop_event``), then shut down cleanly."""
    stop = stop_event or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread
            pass
    host = ServiceHost(service)
    try:
        await service.bus.start()
        await host.start()
    except Exception:
        log.exception("%s failed to start", service.name)
        await host.stop()
        await _close_bus(service)
        return ExitCode.STARTUP_FAILED
    await stop.wait()
    log.info("%s stopping", service.name, extra={"event": "stopping"})
    await host.stop()
    await _close_bus(service)
    return ExitCode.OK


async def _close_bus(service: Service) -> None:
    try:
        await service.bus.close()
    except Exception:
        log.exception("error while closing the bus of %s", service.name)


def main_entry(build: Callable[[], Service]) -> int:
    """Body of every ``__main__.main``: build from settings, run, map failures to exit codes."""
    try:
        service = build()
    except SettingsError as exc:
        print(f"error: {exc}")
        return ExitCode.BAD_SETTINGS
    except SchemaTooNew as exc:  # a store opened while building: a newer release's database
        print(f"error: {exc}")
        return ExitCode.STARTUP_FAILED
    try:
        return int(asyncio.run(run_service(service)))
    except Exception:
        log.exception("service crashed")
        return ExitCode.CRASHED
