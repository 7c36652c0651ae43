"""Which node(s) a compute session gets: data locality first, then the least loaded node.

Pure functions over the store's records, so the policy is tested without a bus or a clock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from silobridge.cluster.v1 import cluster_pb2 as pb
from silobridge.errors import InvalidInput


def parse_table_name(qualified: str) -> tuple[str, str]:
    """``namespace.name`` -> (namespace, name)."""
    namespace, dot, name = qualified.partition(".")
    if not dot or not namespace or not name or "." in name:
        raise InvalidInput(f"prefer_tables entry {qualified!r} is not of the form namespace.name")
    return namespace, name


def node_loads(nodes: Iterable[pb.NodeInfo], sessions: Iterable[pb.ComputeSession]) -> dict[str, float]:
    """Fraction of each node's cpus in use: cpus of its sessions plus the tasks it reports running."""
    used: defaultdict[str, float] = defaultdict(float)
    for s in sessions:
        for node_id in s.node_ids:
            # a multi-node session spreads its cpus over its nodes
            used[node_id] += max(1, s.cpus) / max(1, len(s.node_ids))
    return {n.node_id: (used[n.node_id] + n.running_tasks) / max(1, n.cpus) for n in nodes}


def choose_nodes(
    alive: list[pb.NodeInfo], sessions: Iterable[pb.ComputeSession], preferred: Iterable[pb.TableMeta]
) -> list[str]:
    """Nodes for a new session, best first (``[0]`` is where the task runs).

    Every alive node holding partitions of a preferred table is included, the one holding the
    most preferred rows first; with no such node, the single least loaded alive node.
    """
    if not alive:
        return []
    load = node_loads(alive, sessions)
    alive_ids = {n.node_id for n in alive}
    held: defaultdict[str, int] = defaultdict(int)
    for table in preferred:
        for part in table.partitions:
            if part.node_id in alive_ids:
                held[part.node_id] += max(1, part.rows)
    if held:
        return sorted(held, key=lambda nid: (-held[nid], load[nid], nid))
    return [min(alive_ids, key=lambda nid: (load[nid], nid))]
