"""``silobridge cluster``: validate, render and run one party from a compact ``cluster.yaml``.

    silobridge cluster validate -f cluster.yaml
    silobridge cluster render   -f cluster.yaml --target helm|compose|local -o DIR [--port-offset N]
    silobridge cluster up       -f cluster.yaml [--data-dir D] [--port-offset N] [--drop-peers] [--foreground]
    silobridge cluster status   -f cluster.yaml | --data-dir D
    silobridge cluster restart  -f cluster.yaml | --data-dir D [--service NAME ...]
    silobridge cluster down     -f cluster.yaml | --data-dir D
    silobridge cluster schema   [--crd]

Library use (the multi-process integration tests)::

    plan = local_plan(load_cluster(path), data_dir=tmp)
    with launch(plan) as party:
        party.urls["flow"]  # http://127.0.0.1:PORT
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

from silobridge.errors import InvalidInput
from silobridge_cli import kube
from silobridge_cli.deploy.compose import ROUTES_FILE, compose_files
from silobridge_cli.deploy.crd import cluster_crd_yaml
from silobridge_cli.deploy.helm import helm_files
from silobridge_cli.deploy.launcher import (
    DEFAULT_GRACE_S,
    DEFAULT_READY_TIMEOUT_S,
    LocalCluster,
    ensure_not_running,
    launch,
)
from silobridge_cli.deploy.live_routes import DROP_FLAG, refuse_dropping_peers
from silobridge_cli.deploy.local import ROUTE_TABLE_FILE, local_plan
from silobridge_cli.deploy.spec import ClusterSpec, cluster_schema, load_cluster, with_port_offset

__all__ = ["LocalCluster", "launch", "load_cluster", "local_plan", "register", "render"]

TARGETS = ("helm", "compose", "local")
PLAN_FILE = "plan.json"


def render(
    spec: ClusterSpec,
    target: str,
    out_dir: Path,
    *,
    data_dir: Path | None = None,
    drop_peers: bool = False,
) -> list[Path]:
    """Write the files of ``target`` into ``out_dir``; returns their paths.

    The compose target refuses to overwrite a route table holding peers that cluster.yaml lacks
    (added live with ``silobridge peer add``) unless ``drop_peers``; ``routes.yaml`` directly in
    ``out_dir`` is where earlier versions wrote it."""
    if target == "helm":
        files = helm_files(spec)
    elif target == "compose":
        files = compose_files(spec, out_dir)
        if not drop_peers:
            for table in (out_dir / ROUTES_FILE, out_dir / ROUTE_TABLE_FILE):
                refuse_dropping_peers(spec, table, command="cluster render")
    elif target == "local":
        files = {PLAN_FILE: json.dumps(local_plan(spec, data_dir=data_dir), indent=2) + "\n"}
    else:
        raise InvalidInput(f"unknown target {target!r}: use one of {', '.join(TARGETS)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in files.items():
        path = out_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("cluster", help="deploy one party from cluster.yaml")
    sub = parser.add_subparsers(dest="cluster_command", required=True)

    def with_file(p: argparse.ArgumentParser, *, required: bool = True) -> None:
        p.add_argument("-f", "--file", type=Path, required=required, help="cluster.yaml")

    def add_port_offset(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--port-offset",
            type=int,
            default=0,
            metavar="N",
            help="add N to every port this party listens on (not the peers' ports in routes): "
            "several parties on one host",
        )

    def add_drop_peers(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            DROP_FLAG,
            action="store_true",
            help="overwrite routes.yaml even if it routes peers that cluster.yaml does not "
            "(added with silobridge peer add)",
        )

    validate = sub.add_parser("validate", help="check cluster.yaml against the schema")
    with_file(validate)
    validate.set_defaults(func=_validate)

    rend = sub.add_parser("render", help="write a Helm values file, a compose file or a local launch plan")
    with_file(rend)
    rend.add_argument("--target", choices=TARGETS, required=True)
    rend.add_argument("-o", "--out", type=Path, required=True, help="output directory")
    rend.add_argument("--data-dir", type=Path, help="local target: override data_dir")
    add_port_offset(rend)
    add_drop_peers(rend)
    rend.set_defaults(func=_render)

    up = sub.add_parser("up", help="start this party's services as local processes")
    with_file(up)
    up.add_argument("--data-dir", type=Path, help="override data_dir (pids, logs, service files)")
    up.add_argument(
        "--timeout", type=float, default=DEFAULT_READY_TIMEOUT_S, help="seconds to wait for /readyz"
    )
    up.add_argument("--foreground", action="store_true", help="stay attached; Ctrl-C stops the services")
    add_port_offset(up)
    add_drop_peers(up)
    up.set_defaults(func=_up)

    for name, func, text in (
        ("down", _down, "stop the services"),
        ("status", _status, "show the services"),
        ("restart", _restart, "stop and start the services as cluster up started them"),
    ):
        p = sub.add_parser(name, help=text)
        with_file(p, required=False)
        p.add_argument("--data-dir", type=Path, help="data dir used by cluster up")
        if name in ("down", "restart"):
            p.add_argument("--grace", type=float, default=DEFAULT_GRACE_S, help="seconds before SIGKILL")
        if name == "status":
            p.add_argument("--json", action="store_true", help="machine-readable output")
        if name == "restart":
            p.add_argument(
                "--service",
                action="append",
                metavar="NAME",
                help="only this process (rollsite-router, flow, node-manager-0, ...); repeatable",
            )
            p.add_argument(
                "--timeout", type=float, default=DEFAULT_READY_TIMEOUT_S, help="seconds to wait for /readyz"
            )
        p.set_defaults(func=func)

    schema = sub.add_parser("schema", help="print the cluster.yaml JSON Schema (or the operator CRD)")
    schema.add_argument("--crd", action="store_true", help="the SilobridgeCluster CustomResourceDefinition")
    schema.set_defaults(func=_schema)
    kube.register(sub)


def _validate(args: argparse.Namespace) -> int:
    spec = load_cluster(args.file)
    nodes = spec.section("nodes")
    print(
        f"{args.file}: valid. party {spec.party_id} ({spec.name}), bus {spec.bus_url.split('://')[0] or f'URL in Secret {spec.bus_secret}'}, "
        f"{nodes['replicas']} node-manager(s) with {nodes['compute']} compute, {len(spec.routes)} route(s)"
        + (", default route" if spec.default_route else "")
    )
    return 0


def _render(args: argparse.Namespace) -> int:
    spec = with_port_offset(load_cluster(args.file), args.port_offset)
    for path in render(spec, args.target, args.out, data_dir=args.data_dir, drop_peers=args.drop_peers):
        print(f"wrote {path}")
    return 0


def _data_dir(args: argparse.Namespace) -> Path:
    if args.data_dir is not None:
        return Path(args.data_dir)
    if args.file is None:
        raise InvalidInput("give -f cluster.yaml or --data-dir")
    return load_cluster(args.file).data_dir


def _up(args: argparse.Namespace) -> int:
    spec = with_port_offset(load_cluster(args.file), args.port_offset)
    plan = local_plan(spec, data_dir=args.data_dir)
    root = Path(plan["data_dir"])
    ensure_not_running(root)
    if not args.drop_peers:
        refuse_dropping_peers(spec, root / ROUTE_TABLE_FILE, command="cluster up")
    print(
        f"starting party {spec.party_id} ({spec.name}): {len(plan['processes'])} processes, data in {plan['data_dir']}"
    )
    cluster = launch(plan, ready_timeout_s=args.timeout)
    _print_endpoints(cluster)
    if not args.foreground:
        print(f"stop with: silobridge cluster down --data-dir {plan['data_dir']}")
        return 0
    stopping: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stopping.append(signum)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    while not stopping:
        gone = [r.name for r in cluster.records if not cluster.alive(r)]
        if gone:
            print(f"exited: {', '.join(gone)}; stopping the others", file=sys.stderr)
            cluster.stop()
            return 1
        time.sleep(0.5)
    print("stopping ...")
    cluster.stop()
    return 0


def _print_endpoints(cluster: LocalCluster) -> None:
    for name, endpoint in cluster.endpoints.items():
        print(f"  {name:<18} {endpoint}")
    for name, url in cluster.urls.items():
        print(f"  {name:<18} {url}   (/healthz /readyz /metrics)")


def _down(args: argparse.Namespace) -> int:
    cluster = LocalCluster.attach(_data_dir(args))
    codes = cluster.stop(grace_s=args.grace)
    print(f"stopped {len(codes)} process(es) from {cluster.data_dir}")
    return 0


def _restart(args: argparse.Namespace) -> int:
    cluster = LocalCluster.attach(_data_dir(args))
    restarted = cluster.restart(args.service, grace_s=args.grace, ready_timeout_s=args.timeout)
    print(f"restarted {len(restarted)} process(es) of party {cluster.party_id} from {cluster.data_dir}")
    for r in restarted:
        print(f"  {r.name:<18} pid {r.pid:<8} {r.http_url or ''}")
    return 0


def _status(args: argparse.Namespace) -> int:
    cluster = LocalCluster.attach(_data_dir(args))
    rows = cluster.status()
    if args.json:
        doc: dict[str, Any] = {
            "party_id": cluster.party_id,
            "endpoints": cluster.endpoints,
            "processes": [vars(r) for r in rows],
        }
        print(json.dumps(doc, indent=2))
    else:
        print(f"party {cluster.party_id} ({cluster.data_dir})")
        for r in rows:
            state = "ready" if r.ready else ("running, not ready" if r.alive else "stopped")
            print(f"  {r.name:<18} pid {r.pid:<8} {state:<20} {r.http_url or ''}")
    return 0 if all(r.ready for r in rows) else 1


def _schema(args: argparse.Namespace) -> int:
    if args.crd:
        sys.stdout.write(cluster_crd_yaml())
    else:
        sys.stdout.write(json.dumps(cluster_schema(), indent=2) + "\n")
    return 0
