"""Ray compute backend: chunks run as Ray tasks on the party's own Ray cluster.

The only module that imports ``ray`` (an import-linter contract enforces it). Each node-manager is
a Ray node of its party's cluster advertising ``silobridge_node_<id>``
(:func:`silobridge.compute.placement.node_resource`); a node-manager's process attaches to its own
node by that node's temp dir (``temp_dir``). Items and results must be plain data: functions are
shipped by reference (module-level), chunks through Ray's object store.

With a :class:`~silobridge.compute.placement.Placement`, ``map`` runs chunk ``i`` on the node that
holds the rows of chunk ``i`` (hard node affinity plus that node's resource, no silent retry). When
that node is lost, the chunk runs again on a live replica holder; with none, ``map`` fails at once
with :class:`PartitionLost` naming the node and the partition.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from silobridge.compute.base import ComputeBackend
from silobridge.compute.placement import (
    NODE_RESOURCE_PREFIX,
    TASK_RESOURCE_SHARE,
    PartitionPlace,
    Placement,
    node_resource,
)
from silobridge.errors import InvalidInput, RetryableError, SilobridgeError

T = TypeVar("T")
R = TypeVar("R")


def _call(fn: Callable[[Any], Any], item: Any) -> Any:
    return fn(item)


_remote_call = ray.remote(_call)


def _placed_call(fn: Callable[[Any], Any], item: Any) -> tuple[str, float, Any]:
    """``fn(item)``, the Ray node it ran on and its seconds there (for the locality count)."""
    t0 = time.perf_counter()
    value = fn(item)
    return ray.get_runtime_context().get_node_id(), time.perf_counter() - t0, value


# No retry by Ray: a lost node must surface here, where replicas and the error are decided.
_remote_placed = ray.remote(max_retries=0)(_placed_call)

_NODE_LOSS = (
    ray.exceptions.NodeDiedError,
    ray.exceptions.WorkerCrashedError,
    ray.exceptions.TaskUnschedulableError,
    ray.exceptions.LocalRayletDiedError,
    ray.exceptions.ObjectLostError,
    ray.exceptions.OwnerDiedError,
)


class PartitionLost(RetryableError):
    """The node holding a partition was lost mid-task and no replica holder is alive."""


class Locality:
    """Tasks placed by a Placement: how many ran on a node holding their partition, how many on a
    replica holder (their holder lost), and the seconds they ran per node."""

    def __init__(self) -> None:
        self.tasks = 0
        self.local = 0
        self.by_node: dict[str, int] = {}
        self.busy_s: dict[str, float] = {}
        self.retried = 0
        self.on_replica = 0

    @property
    def share(self) -> float:
        return self.local / self.tasks if self.tasks else 1.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "tasks": self.tasks,
            "local": self.local,
            "share": round(self.share, 4),
            "by_node": dict(self.by_node),
            "busy_s": {n: round(v, 3) for n, v in self.busy_s.items()},
            "retried": self.retried,
            "on_replica": self.on_replica,
        }


class RayBackend(ComputeBackend):
    name = "ray"
    runs_in_process = False

    def __init__(
        self,
        address: str | None = None,
        num_cpus: int | None = None,
        workers: int | None = None,
        namespace: str | None = None,
        resources: Mapping[str, float] | None = None,
        temp_dir: str | None = None,
        placement: Placement | None = None,
    ) -> None:
        self._started = False
        if not ray.is_initialized():
            if address:
                # temp_dir picks this process's own node among several raylets on one host
                ray.init(
                    address=address, namespace=namespace, log_to_driver=False, _temp_dir=temp_dir or None
                )
            else:
                # A local cluster is its own (single) node-manager: it advertises the custom
                # resources tasks will ask for, so placement constraints still schedule.
                cpus = num_cpus or os.cpu_count() or 1
                custom = {
                    k: float(max(1, math.ceil(v * cpus)))
                    for k, v in (resources or {}).items()
                    if not k.startswith("node:")
                }
                ray.init(
                    num_cpus=num_cpus,
                    resources=custom or None,
                    include_dashboard=False,
                    log_to_driver=False,
                    namespace=namespace,
                )
                self._started = True
        cpus = int(ray.cluster_resources().get("CPU", 1))  # type: ignore[no-untyped-call]
        if workers is not None and workers < 1:
            raise InvalidInput(f"workers must be at least 1, got {workers}")
        self._placement = placement
        if placement is not None and workers is None:
            # at least one chunk per partition, and enough to fill the holders' CPUs
            workers = max(len(placement.partitions), self._holder_cpus(placement))
        self._workers = workers or max(1, cpus)
        self._resources = dict(resources or {})
        self.locality = Locality()

    @property
    def workers(self) -> int:
        return self._workers

    @property
    def started_ray(self) -> bool:
        """Whether this backend started Ray (and so shuts it down on close)."""
        return self._started

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        if self._placement is not None:
            return self.map_placed(fn, items, self._placement)
        return self.map_on(fn, items, None)

    @staticmethod
    def _ray_nodes() -> dict[str, str]:
        """Live Ray node id by the node-manager id its resource names."""
        out: dict[str, str] = {}
        for node in ray.nodes():  # type: ignore[no-untyped-call]
            if not node.get("Alive"):
                continue
            for res in node.get("Resources", {}):
                if res.startswith(NODE_RESOURCE_PREFIX):
                    out[res[len(NODE_RESOURCE_PREFIX) :]] = node["NodeID"]
        return out

    def _holder_cpus(self, placement: Placement) -> int:
        alive = set(self._ray_nodes().values())
        cpus = 0
        for node in ray.nodes():  # type: ignore[no-untyped-call]
            if node.get("NodeID") in alive and any(
                node_resource(n) in node.get("Resources", {}) for n in placement.node_ids
            ):
                cpus += int(node["Resources"].get("CPU", 0))
        return cpus

    def map_placed(self, fn: Callable[[T], R], items: Sequence[T], placement: Placement) -> list[R]:
        """Chunk ``i`` on the node holding its rows; a lost holder's chunks on a live replica
        holder, or :class:`PartitionLost` at once when none is left."""
        places = placement.for_chunks(len(items))
        name = getattr(fn, "__name__", type(fn).__name__)
        live = self._ray_nodes()
        known = dict(live)  # every Ray node id seen, the lost ones too (for the locality count)
        tried: list[set[str]] = [set() for _ in items]
        refs: list[tuple[str, Any]] = []
        results: list[Any] = []
        try:
            refs = [
                self._submit(fn, items[i], places[i], live, tried[i], name, None) for i in range(len(items))
            ]
            for i in range(len(items)):
                while True:
                    node_id, ref = refs[i]
                    try:
                        ran_on, busy, value = ray.get(ref)
                        break
                    except ray.exceptions.RayTaskError as exc:
                        if isinstance(getattr(exc, "cause", None), SilobridgeError):
                            raise exc.cause from None
                        raise
                    except _NODE_LOSS as exc:
                        live = self._ray_nodes()
                        known |= live
                        live.pop(node_id, None)  # the GCS may not have noticed yet
                        refs[i] = self._submit(fn, items[i], places[i], live, tried[i], name, (node_id, exc))
                        self.locality.retried += 1
                results.append(value)
                self.locality.tasks += 1
                self.locality.local += ran_on in {known.get(n) for n in places[i].nodes()}
                self.locality.by_node[node_id] = self.locality.by_node.get(node_id, 0) + 1
                self.locality.on_replica += node_id != places[i].node_id
                self.locality.busy_s[node_id] = self.locality.busy_s.get(node_id, 0.0) + busy
        except BaseException:
            for _, ref in refs[len(results) :]:  # the map failed: stop what is still running
                with contextlib.suppress(ray.exceptions.RayError, ValueError, TypeError):
                    ray.cancel(ref, force=True)
            raise
        return results

    def _submit(
        self,
        fn: Callable[[Any], Any],
        item: Any,
        place: PartitionPlace,
        live: Mapping[str, str],
        tried: set[str],
        name: str,
        lost: tuple[str, BaseException] | None,
    ) -> tuple[str, Any]:
        spare = [n for n in place.nodes() if n in live and n not in tried]
        if not spare:
            gone = lost[0] if lost else ", ".join(n for n in place.nodes() if n not in live)
            raise PartitionLost(
                f"node-manager {gone} was lost while running {name!r} on partition {place.index} "
                f"({place.rows} rows) and no replica holder is alive (holders: {', '.join(place.nodes())})"
            ) from (lost[1] if lost else None)
        node_id = spare[0]
        tried.add(node_id)
        remote = _remote_placed.options(
            num_cpus=1,
            resources={node_resource(node_id): TASK_RESOURCE_SHARE},
            scheduling_strategy=NodeAffinitySchedulingStrategy(live[node_id], soft=False),
            name=f"{name}[p{place.index}@{node_id}]",
        )
        return node_id, remote.remote(fn, item)

    def map_on(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        placement: Sequence[Mapping[str, float]] | None,
    ) -> list[R]:
        """Like ``map``, with one resource requirement per item (e.g. the node-manager holding it)."""
        if placement is not None and len(placement) != len(items):
            raise InvalidInput(f"{len(placement)} placements for {len(items)} items")
        refs = []
        for i, item in enumerate(items):
            resources = dict(self._resources)
            if placement is not None:
                resources.update(placement[i])
            remote = _remote_call.options(num_cpus=1, resources=resources) if resources else _remote_call
            refs.append(remote.remote(fn, item))
        try:
            return list(ray.get(refs))
        except ray.exceptions.RayTaskError as exc:
            cause = exc.cause if hasattr(exc, "cause") else None
            if isinstance(cause, SilobridgeError):
                raise cause from None
            raise
        except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError) as exc:
            raise RetryableError(f"a Ray worker died while running {getattr(fn, '__name__', fn)!r}") from exc

    def close(self) -> None:
        if self._started and ray.is_initialized():
            ray.shutdown()
        self._started = False
