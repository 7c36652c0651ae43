"""Single-process party: all four services of one party in one process, on the memory bus.

Each service keeps its own settings, metrics registry and HTTP face (/healthz, /readyz,
/metrics), exactly as when it runs as its own process; only the bus is in-process. Parties
still talk to each other only through their routers, over mutual TLS.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from silobridge.bus.memory import MemoryBus
from silobridge.config import CommonSettings, load_settings
from silobridge.federation.context import DEFAULT_RECV_TIMEOUT_S
from silobridge.observability.logs import configure_logging
from silobridge.observability.metrics import InstrumentedBus, ServiceMetrics
from silobridge.service import ExitCode, Service, ServiceHost
from silobridge_cli.credentials import forget, remember_bootstrap

log = logging.getLogger(__name__)


@dataclass
class PartyConfig:
    party_id: int
    data_dir: Path
    cert_dir: Path
    route_table: Path
    router_port: int = 0
    flow_port: int = 9380
    serving_port: int = 0
    http_host: str = "127.0.0.1"
    compute_backend: str = "local"
    compute_workers: int = 0
    bus_url: str = ""
    # Sources the node-manager may bind tables to (its bind_allow); empty = nothing (default deny).
    bind_allow: list[str] = field(default_factory=list)
    recv_timeout_s: float = DEFAULT_RECV_TIMEOUT_S
    extra: dict[str, dict[str, Any]] = field(default_factory=dict)


class SingleProcessParty:
    """Build, start and stop one party's four services around one bus."""

    def __init__(self, config: PartyConfig) -> None:
        self.config = config
        self.bus = MemoryBus(f"memory://party-{config.party_id}")
        self.services: dict[str, ServiceHost] = {}

    def _settings(self, cls: type[CommonSettings], name: str, **fields: Any) -> Any:
        c = self.config
        common: dict[str, Any] = {
            "party_id": c.party_id,
            "bus_url": self.bus.url,
            "http_host": c.http_host,
            "http_port": 0,
            "data_dir": c.data_dir / name,
        }
        common.update(fields)
        common.update(c.extra.get(name, {}))
        return load_settings(cls, {}, **common)

    def _build(self) -> list[tuple[str, Service]]:
        return [
            (name, self._make(name, svc_cls, settings)) for name, svc_cls, settings in self.service_settings()
        ]

    def service_settings(self) -> list[tuple[str, type[Any], CommonSettings]]:
        """(name, service class, validated settings) of the party's services, in start order."""
        from cluster_manager.service import ClusterManagerService
        from cluster_manager.settings import ClusterManagerSettings
        from flow.service import FlowService
        from flow.settings import FlowSettings
        from node_manager.service import NodeManagerService
        from node_manager.settings import NodeManagerSettings
        from rollsite_router.service import RouterService
        from rollsite_router.settings import RouterSettings
        from serving.service import ServingService
        from serving.settings import ServingSettings

        c = self.config
        specs: list[tuple[str, type[Any], type[CommonSettings], dict[str, Any]]] = [
            ("cluster-manager", ClusterManagerService, ClusterManagerSettings, {}),
            (
                "node-manager",
                NodeManagerService,
                NodeManagerSettings,
                {
                    "node_id": f"node0-p{c.party_id}",
                    "compute_backend": c.compute_backend,
                    "compute_workers": c.compute_workers,
                    "bind_allow": list(c.bind_allow),
                    "task_recv_timeout_s": c.recv_timeout_s,
                },
            ),
            (
                "rollsite-router",
                RouterService,
                RouterSettings,
                {"listen_port": c.router_port, "cert_dir": c.cert_dir, "route_table": c.route_table},
            ),
            ("flow", FlowService, FlowSettings, {"route_table": c.route_table, "http_port": c.flow_port}),
            ("serving", ServingService, ServingSettings, {"http_port": c.serving_port}),
        ]
        return [(name, svc_cls, self._settings(cls, name, **fields)) for name, svc_cls, cls, fields in specs]

    def _make(self, name: str, cls: type[Any], settings: CommonSettings) -> Service:
        metrics = ServiceMetrics(name, self.config.party_id)
        service: Service = cls(settings, InstrumentedBus(self.bus, metrics), metrics)
        return service

    async def start(self) -> None:
        await self.bus.start()
        for name, service in self._build():
            self.services[name] = host = ServiceHost(service)  # stopped by stop() even if start fails
            await host.start()
        # Drivers in this process (the e2e tests, notebooks) reach this flow with its admin token.
        remember_bootstrap(self.flow_url, self.config.data_dir / "flow", self.config.party_id)
        remember_bootstrap(self.services["serving"].url, self.config.data_dir / "serving")  # not a flow
        log.info("party %s ready: flow at %s", self.config.party_id, self.flow_url)

    async def stop_service(self, name: str) -> None:
        """Stop one service (e.g. the router, to cut this party off); the others keep running."""
        await self.services[name].stop()

    async def restart_service(self, name: str) -> None:
        """Start a stopped service again: a new instance with the same settings (ports included)."""
        old = self.services[name].service
        self.services[name] = host = ServiceHost(self._make(name, type(old), old.settings))
        await host.start()

    @property
    def flow_url(self) -> str:
        return self.services["flow"].url

    async def stop(self) -> None:
        if "flow" in self.services:
            forget(self.flow_url)
        if "serving" in self.services:
            forget(self.services["serving"].url)
        for name in reversed(list(self.services)):
            await self.services[name].stop()
        self.services.clear()
        await self.bus.close()


async def run_party(config: PartyConfig, ready_file: Path | None = None) -> ExitCode:
    party = SingleProcessParty(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await party.start()
    except Exception:
        log.exception("party %s failed to start", config.party_id)
        await party.stop()
        return ExitCode.STARTUP_FAILED
    if ready_file is not None:
        import json

        ready_file.parent.mkdir(parents=True, exist_ok=True)
        ready_file.write_text(json.dumps({name: rs.url for name, rs in party.services.items()}))
    await stop.wait()
    await party.stop()
    return ExitCode.OK


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("party", help="run the services of one party in one process (memory bus)")
    psub = p.add_subparsers(dest="party_command", required=True)
    run = psub.add_parser("run", help="run until SIGTERM")
    run.add_argument("--party", type=int, required=True, help="party id")
    run.add_argument("--data-dir", type=Path, required=True)
    run.add_argument("--cert-dir", type=Path, required=True, help="from `silobridge pki demo`")
    run.add_argument("--route-table", type=Path, required=True)
    run.add_argument("--router-port", type=int, default=0)
    run.add_argument("--flow-port", type=int, default=9380)
    run.add_argument("--serving-port", type=int, default=0, help="the serving API (0: a free port)")
    run.add_argument("--compute", default="local", choices=["local", "processes", "ray"])
    run.add_argument("--workers", type=int, default=0)
    run.add_argument(
        "--bind-allow",
        action="append",
        default=[],
        metavar="SOURCE",
        help="a directory or a database URL without password that tables may be bound to (the "
        "node-manager's bind_allow); repeat it or separate entries by commas; none = nothing may be bound",
    )
    run.add_argument(
        "--recv-timeout",
        type=float,
        default=DEFAULT_RECV_TIMEOUT_S,
        metavar="SECONDS",
        help="how long a task waits for one value from another party (the node-manager's "
        "task_recv_timeout_s; default %(default)g)",
    )
    run.add_argument("--ready-file", type=Path, help="write the services' URLs here once ready")
    run.add_argument("--log-level", default="INFO")
    run.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    configure_logging("party", args.party, args.log_level)
    return int(asyncio.run(run_party(config_from_args(args), args.ready_file)))


def config_from_args(args: argparse.Namespace) -> PartyConfig:
    return PartyConfig(
        party_id=args.party,
        data_dir=args.data_dir,
        cert_dir=args.cert_dir,
        route_table=args.route_table,
        router_port=args.router_port,
        flow_port=args.flow_port,
        serving_port=args.serving_port,
        compute_backend=args.compute,
        compute_workers=args.workers,
        bind_allow=[e.strip() for arg in args.bind_allow for e in arg.split(",") if e.strip()],
        recv_timeout_s=args.recv_timeout,
    )
