"""Peers added live (``silobridge peer add``) that writing ``routes.yaml`` from cluster.yaml would drop.

The router and flow follow the route table file without a restart, so it may hold partners that
cluster.yaml does not name yet. ``cluster up`` and ``cluster render --target compose`` write that
file from cluster.yaml; before they do, :func:`refuse_dropping_peers` stops them from losing
such a partner silently.
"""

from __future__ import annotations

from pathlib import Path

from rollsite_router.routes import Endpoint, RouteTableError, load_route_table
from silobridge.errors import Conflict
from silobridge_cli.deploy.spec import ClusterSpec

DROP_FLAG = "--drop-peers"


def peers_not_in(spec: ClusterSpec, route_table: Path) -> dict[int, Endpoint]:
    """Parties routed in the existing file but absent from cluster.yaml's ``routes``."""
    if not route_table.exists():
        return {}
    try:
        table = load_route_table(route_table)
    except RouteTableError as exc:
        raise Conflict(
            f"{exc}; it would be replaced from cluster.yaml: fix it, or pass {DROP_FLAG} to replace it"
        ) from None
    known = spec.routes
    return {party: e for party, e in sorted(table.routes.items()) if party not in known}


def refuse_dropping_peers(spec: ClusterSpec, route_table: Path, *, command: str) -> None:
    """Raise :class:`Conflict`, naming each one, when ``route_table`` has peers cluster.yaml lacks."""
    extra = peers_not_in(spec, route_table)
    if not extra:
        return
    listed = ", ".join(f"party {party} ({e.target})" for party, e in extra.items())
    raise Conflict(
        f"{route_table} routes peers that cluster.yaml does not (added with silobridge peer add?): "
        f"{listed}. {command} would drop them: add each to cluster.yaml's routes, "
        f"or pass {DROP_FLAG} to drop them"
    )
