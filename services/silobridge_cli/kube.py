"""``silobridge cluster install|upgrade|delete|list|describe``: one party as a SilobridgeCluster
custom resource in a Kubernetes context (the operator turns it into the party's objects).

Uses the official kubernetes client and the kubeconfig's context, as kubectl would. ``--dry-run``
prints the resource that would be sent and contacts nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from silobridge.errors import Conflict, InvalidInput, NotFound
from silobridge_cli.deploy.crd import GROUP, VERSION
from silobridge_cli.deploy.spec import load_cluster

PLURAL = "silobridgeclusters"


def cluster_resource(file: Path, name: str | None, namespace: str | None) -> dict[str, Any]:
    spec = load_cluster(file)  # validated exactly as the operator will validate it
    raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    body = {k: v for k, v in raw.items() if k not in ("apiVersion", "kind")}
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "SilobridgeCluster",
        "metadata": {"name": name or spec.name, "namespace": namespace or f"silobridge-{spec.party_id}"},
        "spec": body,
    }


def _api(args: argparse.Namespace) -> Any:
    from kubernetes import client, config  # the client loads slowly: only when a command needs it

    config.load_kube_config(  # type: ignore[no-untyped-call]
        config_file=str(args.kubeconfig) if args.kubeconfig else None, context=args.context
    )
    return client.CustomObjectsApi()


def _call(fn: Any, *a: Any, what: str, **kw: Any) -> Any:
    from kubernetes.client.exceptions import ApiException

    try:
        return fn(*a, **kw)
    except ApiException as exc:
        if exc.status == 404:
            raise NotFound(f"{what}: not found") from None
        if exc.status == 409:
            raise Conflict(f"{what}: already exists (use cluster upgrade)") from None
        raise InvalidInput(f"{what}: the API server answered {exc.status}: {exc.reason}") from None


def _install(args: argparse.Namespace) -> int:
    cr = cluster_resource(args.file, args.name, args.namespace)
    if args.dry_run:
        sys.stdout.write(yaml.safe_dump(cr, sort_keys=False))
        return 0
    meta = cr["metadata"]
    what = f"SilobridgeCluster {meta['namespace']}/{meta['name']}"
    api = _api(args)
    if args.cluster_command == "install":
        _call(api.create_namespaced_custom_object, GROUP, VERSION, meta["namespace"], PLURAL, cr, what=what)
        print(f"installed {what}")
    else:
        _call(
            api.patch_namespaced_custom_object,
            GROUP, VERSION, meta["namespace"], PLURAL, meta["name"], {"spec": cr["spec"]}, what=what,
        )  # fmt: skip
        print(f"upgraded {what}")
    return 0


def _delete(args: argparse.Namespace) -> int:
    what = f"SilobridgeCluster {args.namespace}/{args.name}"
    _call(
        _api(args).delete_namespaced_custom_object,
        GROUP,
        VERSION,
        args.namespace,
        PLURAL,
        args.name,
        what=what,
    )
    print(f"deleted {what}")
    return 0


def _conditions(item: dict[str, Any]) -> dict[str, str]:
    return {c["type"]: c["status"] for c in (item.get("status") or {}).get("conditions") or []}


def _list(args: argparse.Namespace) -> int:
    api = _api(args)
    if args.namespace:
        items = _call(api.list_namespaced_custom_object, GROUP, VERSION, args.namespace, PLURAL, what="list")
    else:
        items = _call(api.list_cluster_custom_object, GROUP, VERSION, PLURAL, what="list")
    print(f"{'NAMESPACE':<24} {'NAME':<20} {'PARTY':>7} {'PHASE':<10} {'VERSION':<10} READY")
    for item in items["items"]:
        st, meta = item.get("status") or {}, item["metadata"]
        print(
            f"{meta['namespace']:<24} {meta['name']:<20} {item['spec']['party']['id']:>7} "
            f"{st.get('phase', '-'):<10} {st.get('version', '-'):<10} {_conditions(item).get('Ready', '-')}"
        )
    return 0


def _describe(args: argparse.Namespace) -> int:
    what = f"SilobridgeCluster {args.namespace}/{args.name}"
    item = _call(
        _api(args).get_namespaced_custom_object, GROUP, VERSION, args.namespace, PLURAL, args.name, what=what
    )
    st = item.get("status") or {}
    print(f"{what}: party {item['spec']['party']['id']}, generation {item['metadata'].get('generation')}")
    print(
        f"  phase {st.get('phase', '-')}, version {st.get('version', '-')} (target {st.get('targetVersion', '-')})"
    )
    for c in st.get("conditions") or []:
        print(f"  {c['type']:<12} {c['status']:<6} {c.get('reason', '')}: {c.get('message', '')}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    def kube_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--kubeconfig", type=Path, help="default: $KUBECONFIG or ~/.kube/config")
        p.add_argument("--context", help="kubeconfig context (default: its current one)")

    for name, text in (("install", "create this party's SilobridgeCluster"), ("upgrade", "update its spec")):
        p = sub.add_parser(name, help=f"{text} in a Kubernetes context (the operator deploys it)")
        p.add_argument("-f", "--file", type=Path, required=True, help="cluster.yaml")
        p.add_argument("--name", help="resource name (default party.name)")
        p.add_argument("-n", "--namespace", help="default silobridge-<party id>")
        p.add_argument("--dry-run", action="store_true", help="print the resource; contact nothing")
        kube_args(p)
        p.set_defaults(func=_install)
    for name, func, text in (("delete", _delete, "delete"), ("describe", _describe, "show status of")):
        p = sub.add_parser(name, help=f"{text} a SilobridgeCluster")
        p.add_argument("--name", required=True)
        p.add_argument("-n", "--namespace", required=True)
        kube_args(p)
        p.set_defaults(func=func)
    p = sub.add_parser("list", help="SilobridgeClusters of a namespace (default every namespace)")
    p.add_argument("-n", "--namespace")
    kube_args(p)
    p.set_defaults(func=_list)
