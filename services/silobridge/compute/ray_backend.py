"""Ray compute backend: chunks run as Ray tasks on the party's own Ray cluster.

The only module that imports ``ray`` (an import-linter contract enforces it). Node-managers join
the party's Ray cluster with a custom resource each; passing that resource (a tiny amount, e.g.
``{"node_manager_7": 0.001}``) places tasks on the node that holds the data. Items and results must
be plain data: functions are shipped by reference (module-level), chunks through Ray's object store.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import ray

from silobridge.compute.base import ComputeBackend
from silobridge.errors import InvalidInput, RetryableError, SilobridgeError

T = TypeVar("T")
R = TypeVar("R")


def _call(fn: Callable[[Any], Any], item: Any) -> Any:
    return fn(item)


_remote_call = ray.remote(_call)


class RayBackend(ComputeBackend):
    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        num_cpus: int | None = None,
        workers: int | None = None,
        namespace: str | None = None,
        resources: Mapping[str, float] | None = None,
    ) -> None:
        self._started = False
        if not ray.is_initialized():
            if address:
                ray.init(address=address, namespace=namespace, log_to_driver=False)
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
        self._workers = workers or max(1, cpus)
        self._resources = dict(resources or {})

    @property
    def workers(self) -> int:
        return self._workers

    @property
    def started_ray(self) -> bool:
        """Whether this backend started Ray (and so shuts it down on close)."""
        return self._started

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        return self.map_on(fn, items, None)

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
