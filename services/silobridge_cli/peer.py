"""``silobridge peer add|remove|list``: a party's partners, kept in its router's route table.

The router polls that file and flow reads it per job, so a peer added or removed here is in
force at both within seconds, with no restart (docs/deploy.md, "Adding and removing a peer").
Every edit is checked with the router's own loader before it is written, and written whole
(a temporary file in the same directory, then a rename), under a lock on the directory, so a
reader never sees half a file and two edits at once do not lose one. A refused edit names the
problem and leaves the file as it was. The file is rewritten from its data: comments go.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import ipaddress
import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from rollsite_router.routes import RouteTable, load_route_table, parse_route_table
from silobridge.errors import Conflict, InvalidInput, NotFound
from silobridge.pki import MAX_PARTY_ID

_DNS_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


def add_peer(
    path: Path, party: int, host: str, port: int, *, allow: bool = True, replace: bool = False
) -> RouteTable:
    """Route ``party`` to ``host:port`` (and accept its messages unless ``allow`` is False)."""
    _check_party(party)
    host = _check_host(host)
    _check_port(port)
    with _locked(path) as (doc, table):
        if party == table.self_party:
            raise InvalidInput(
                f"party {party} is this party itself (self: {party} in {path}): nothing to route"
            )
        old = table.routes.get(party)
        if old is not None and not replace:
            raise Conflict(
                f"party {party} already has a route in {path} ({old.target}); "
                "use --replace to change it, or `silobridge peer remove` first"
            )
        routes = dict(doc.get("routes") or {})
        routes[party] = {"host": host, "port": port}
        doc["routes"] = routes
        allowed = set(table.allow)
        if allow:
            allowed.add(party)
        else:
            allowed.discard(party)
        if "allow" in doc or allowed != set(routes):
            doc["allow"] = sorted(allowed)
        return _write(path, doc)


def remove_peer(path: Path, party: int) -> RouteTable:
    """Remove ``party``'s route and its place in the inbound allow list."""
    _check_party(party)
    with _locked(path) as (doc, table):
        if party == table.self_party:
            raise InvalidInput(f"party {party} is this party itself (self: {party} in {path}), not a peer")
        if party not in table.routes and party not in table.allow:
            raise NotFound(f"party {party} is not a peer in {path} (no route, not allowed)")
        allowed = set(table.allow)
        routes = {k: v for k, v in (doc.get("routes") or {}).items() if k != party}
        doc["routes"] = routes
        allowed.discard(party)
        if "allow" in doc:
            doc["allow"] = sorted(allowed)
        return _write(path, doc)


def list_peers(path: Path) -> RouteTable:
    return load_route_table(path)


# ----- the file --------------------------------------------------------------------------------


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[tuple[dict[str, Any], RouteTable]]:
    """The file's document and its table as the router reads it, under an exclusive lock on the
    directory (held until written). A file the router would refuse is not edited."""
    real = Path(path).resolve()
    try:
        fd = os.open(real.parent, os.O_RDONLY)
    except OSError as exc:
        raise NotFound(f"route table {path}: cannot open its directory ({exc.strerror})") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            text = real.read_text(encoding="utf-8")
        except OSError as exc:
            raise NotFound(f"route table {path}: cannot read ({exc.strerror})") from None
        table = parse_route_table(text, source=str(path))  # raises, naming the line
        yield yaml.safe_load(text), table
    finally:
        os.close(fd)  # releases the lock


def _write(path: Path, doc: dict[str, Any]) -> RouteTable:
    """Check with the router's loader, then replace the file in one rename (mode kept)."""
    ordered = {k: doc[k] for k in ("self", "routes", "default", "allow") if k in doc}
    text = yaml.safe_dump(ordered, sort_keys=False, default_flow_style=None)
    table = parse_route_table(text, source=str(path))
    real = Path(path).resolve()
    mode = real.stat().st_mode & 0o777
    fd, tmp = tempfile.mkstemp(dir=real.parent, prefix=f".{real.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, real)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return table


def _check_party(party: int) -> None:
    if not 1 <= party <= MAX_PARTY_ID:
        raise InvalidInput(f"party id {party}: must be a positive integer up to {MAX_PARTY_ID}")


def _check_port(port: int) -> None:
    if not 1 <= port <= 65535:
        raise InvalidInput(f"port {port}: must be 1..65535")


def _check_host(host: str) -> str:
    """A DNS name, an IPv4 address or an IPv6 address: what the router's gRPC client dials."""
    host = host.strip().removeprefix("[").removesuffix("]")
    with contextlib.suppress(ValueError):
        return str(ipaddress.ip_address(host))
    labels = host.removesuffix(".").split(".")
    names = all(_DNS_LABEL.match(label) for label in labels) and not labels[-1].isdigit()
    if not host or len(host) > 253 or not names:
        raise InvalidInput(f"host {host!r}: not a DNS name or an IP address (no scheme, no port)")
    return host


# ----- command line ----------------------------------------------------------------------------


def _add(args: argparse.Namespace) -> int:
    table = add_peer(
        args.route_table, args.party, args.host, args.port, allow=not args.no_allow, replace=args.replace
    )
    inbound = "accepted" if table.allows(args.party) else "not accepted (--no-allow)"
    print(
        f"party {args.party} routed to {table.routes[args.party].target} in {args.route_table}; "
        f"its messages are {inbound}. The router and flow pick it up without a restart."
    )
    return 0


def _remove(args: argparse.Namespace) -> int:
    remove_peer(args.route_table, args.party)
    print(f"party {args.party} removed from {args.route_table}")
    return 0


def _list(args: argparse.Namespace) -> int:
    table = list_peers(args.route_table)
    peers = sorted(set(table.routes) | set(table.allow))
    if args.json:
        out: dict[str, Any] = {
            "self": table.self_party,
            "peers": [
                {
                    "party": p,
                    "host": table.routes[p].host if p in table.routes else None,
                    "port": table.routes[p].port if p in table.routes else None,
                    "allowed": table.allows(p),
                }
                for p in peers
            ],
        }
        if table.default is not None:
            d = table.default
            out["default"] = {"host": d.host, "port": d.port, "party": d.party or None}
        print(json.dumps(out, indent=2))
        return 0
    print(f"this party: {table.self_party}")
    print(f"{'PARTY':<12} {'ADDRESS':<40} INBOUND")
    for p in peers:
        where = table.routes[p].target if p in table.routes else "(default route)"
        print(f"{p:<12} {where:<40} {'allowed' if table.allows(p) else 'refused'}")
    if table.default is not None:
        pinned = f", presents party-{table.default.party}" if table.default.party else ""
        print(f"default route: {table.default.target}{pinned}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("peer", help="add, remove or list partner parties in the router's route table")
    psub = p.add_subparsers(dest="peer_command", required=True)

    def table_option(cmd: argparse.ArgumentParser) -> None:
        cmd.add_argument(
            "--route-table", type=Path, required=True, help="the route-table YAML the router and flow read"
        )

    add = psub.add_parser("add", help="route a new peer (router and flow see it without a restart)")
    table_option(add)
    add.add_argument("--party", type=int, required=True, help="the peer's party id")
    add.add_argument("--host", required=True, help="DNS name or IP address of the peer's router")
    add.add_argument("--port", type=int, required=True, help="the peer router's gRPC port")
    add.add_argument(
        "--no-allow", action="store_true", help="send to the peer but refuse its messages (inbound ACL)"
    )
    add.add_argument("--replace", action="store_true", help="change the route of a peer that has one")
    add.set_defaults(func=_add)

    rm = psub.add_parser("remove", help="remove a peer's route and its place in the allow list")
    table_option(rm)
    rm.add_argument("--party", type=int, required=True)
    rm.set_defaults(func=_remove)

    ls = psub.add_parser("list", help="the peers, their addresses and whether their messages are accepted")
    table_option(ls)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_list)
