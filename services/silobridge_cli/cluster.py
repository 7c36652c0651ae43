"""``silobridge cluster``: validate, render and run one party from a compact ``cluster.yaml``.

    silobridge cluster validate -f cluster.yaml
    silobridge cluster render   -f cluster.yaml --target helm|compose|local -o DIR
    silobridge cluster up       -f cluster.yaml [--data-dir D] [--foreground]
    silobridge cluster status   -f cluster.yaml | --data-dir D
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
from silobridge_cli.deploy.compose import compose_files
from silobridge_cli.deploy.crd import cluster_crd_yaml
from silobridge_cli.deploy.helm import helm_files
from silobridge_cli.deploy.launcher import DEFAULT_GRACE_S, DEFAULT_READY_TIMEOUT_S, LocalCluster, launch
from silobridge_cli.deploy.local import local_plan
from silobridge_cli.deploy.spec import ClusterSpec, cluster_schema, load_cluster

__all__ = ["LocalCluster", "launch", "load_cluster", "local_plan", "register", "render"]

TARGETS = ("helm", "compose", "local")
PLAN_FILE = "plan.json"


def render(spec: ClusterSpec, target: str, out_dir: Path, *, data_dir: Path | None = None) -> list[Path]:
    """Write the files of ``target`` into ``out_dir``; returns their paths."""
    if target == "helm":
        files = helm_files(spec)
    elif target == "compose":
        files = compose_files(spec, out_dir)
    elif target == "local":
        files = {PLAN_FILE: json.dumps(local_plan(spec, data_dir=data_dir), indent=2) + "\n"}
    else:
        raise InvalidInput(f"unknown target {target!r}: use one of {', '.join(TARGETS)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in files.items():
        path = out_dir / name
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("cluster", help="deploy one party from cluster.yaml")
    sub = parser.add_subparsers(dest="cluster_command", required=True)

    def with_file(p: argparse.ArgumentParser, *, required: bool = True) -> None:
        p.add_argument("-f", "--file", type=Path, required=required, help="cluster.yaml")

    validate = sub.add_parser("validate", help="check cluster.yaml against the schema")
    with_file(validate)
    validate.set_defaults(func=_validate)

    rend = sub.add_parser("render", help="write a Helm values file, a compose file or a local launch plan")
    with_file(rend)
    rend.add_argument("--target", choices=TARGETS, required=True)
    rend.add_argument("-o", "--out", type=Path, required=True, help="output directory")
    rend.add_argument("--data-dir", type=Path, help="local target: override data_dir")
    rend.set_defaults(func=_render)

    up = sub.add_parser("up", help="start this party's services as local processes")
    with_file(up)
    up.add_argument("--data-dir", type=Path, help="override data_dir (pids, logs, service files)")
    up.add_argument(
        "--timeout", type=float, default=DEFAULT_READY_TIMEOUT_S, help="seconds to wait for /readyz"
    )
    up.add_argument("--foreground", action="store_true", help="stay attached; Ctrl-C stops the services")
    up.set_defaults(func=_up)

    for name, func, text in (("down", _down, "stop the services"), ("status", _status, "show the services")):
        p = sub.add_parser(name, help=text)
        with_file(p, required=False)
        p.add_argument("--data-dir", type=Path, help="data dir used by cluster up")
        if name == "down":
            p.add_argument("--grace", type=float, default=DEFAULT_GRACE_S, help="seconds before SIGKILL")
        else:
            p.add_argument("--json", action="store_true", help="machine-readable output")
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
    spec = load_cluster(args.file)
    for path in render(spec, args.target, args.out, data_dir=args.data_dir):
        print(f"wrote {path}")
    return 0


def _data_dir(args: argparse.Namespace) -> Path:
    if args.data_dir is not None:
        return Path(args.data_dir)
    if args.file is None:
        raise InvalidInput("give -f cluster.yaml or --data-dir")
    return load_cluster(args.file).data_dir


def _up(args: argparse.Namespace) -> int:
    spec = load_cluster(args.file)
    plan = local_plan(spec, data_dir=args.data_dir)
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
