"""Where a table's rows live among a party's node-managers, and the Ray resource that names each one.

The one source of the resource names: a node-manager's Ray node advertises
``node_resource(node_id)`` (rendered by the local launcher, compose and Helm) and every task placed
on that node asks for a small share of it (:data:`TASK_RESOURCE_SHARE`). No ``ray`` import here.

A :class:`Placement` lists a table's row partitions in order, each with the node that holds it and
the nodes that hold a replica. The Ray backend maps chunk ``i`` of ``n`` equal contiguous chunks
(what :func:`silobridge.compute.base.split` makes) to the partition holding most of that chunk's
rows, so a component that maps over row chunks runs each chunk where its rows are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from silobridge.errors import InvalidInput

NODE_RESOURCE_PREFIX = "silobridge_node_"
# What a node advertises: many units, so its CPUs (not the resource) bound its concurrency.
NODE_RESOURCE_UNITS = 1024
# What one task asks for.
TASK_RESOURCE_SHARE = 1.0


def node_resource(node_id: str) -> str:
    """The custom Ray resource a node-manager's Ray node advertises."""
    if not node_id:
        raise InvalidInput("a node-manager on Ray needs a node id")
    return f"{NODE_RESOURCE_PREFIX}{node_id}"


@dataclass(frozen=True)
class PartitionPlace:
    index: int
    rows: int
    node_id: str
    replicas: tuple[str, ...] = field(default=())

    def nodes(self) -> tuple[str, ...]:
        """The holder first, then the replicas: where the partition's work may run."""
        return (self.node_id, *self.replicas)


@dataclass(frozen=True)
class Placement:
    partitions: tuple[PartitionPlace, ...]

    def __post_init__(self) -> None:
        if not self.partitions:
            raise InvalidInput("a placement needs at least one partition")
        if sorted(p.index for p in self.partitions) != list(range(len(self.partitions))):
            raise InvalidInput("partition indexes must be 0..n-1, each once")

    @property
    def rows(self) -> int:
        return sum(p.rows for p in self.partitions)

    @property
    def node_ids(self) -> list[str]:
        """Holders, in partition order, each once."""
        return list(dict.fromkeys(p.node_id for p in self.partitions))

    @classmethod
    def spread(cls, rows: int, node_ids: Sequence[str], *, per_node: int = 1, replicas: int = 0) -> Placement:
        """``rows`` in contiguous partitions, ``per_node`` per node, dealt to ``node_ids`` in turn;
        each partition also held by the next ``replicas`` nodes."""
        nodes = list(dict.fromkeys(node_ids))
        if not nodes:
            raise InvalidInput("a placement needs at least one node")
        if not 0 <= replicas < len(nodes):
            raise InvalidInput(
                f"replicas must be 0..{len(nodes) - 1} with {len(nodes)} nodes, got {replicas}"
            )
        count = max(1, min(rows, per_node * len(nodes))) if rows else 1
        bounds = [rows * i // count for i in range(count + 1)]
        parts = []
        for i in range(count):
            holder = i * len(nodes) // count
            copies = tuple(nodes[(holder + k) % len(nodes)] for k in range(1, replicas + 1))
            parts.append(PartitionPlace(i, bounds[i + 1] - bounds[i], nodes[holder], copies))
        return cls(tuple(parts))

    def for_chunks(self, n_chunks: int) -> list[PartitionPlace]:
        """For each of ``n_chunks`` equal contiguous chunks of the rows (as ``split`` cuts them), the
        partition holding most of its rows."""
        total = self.rows
        ordered = sorted(self.partitions, key=lambda p: p.index)
        starts, acc = [], 0
        for p in ordered:
            starts.append(acc)
            acc += p.rows
        out = []
        for i in range(n_chunks):
            lo, hi = total * i // n_chunks, total * (i + 1) // n_chunks
            overlap = [min(hi, st + p.rows) - max(lo, st) for p, st in zip(ordered, starts, strict=True)]
            out.append(ordered[overlap.index(max(overlap))])
        return out
