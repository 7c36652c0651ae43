"""The compute-backend seam used by components for heavy, parallel work.

``fn`` must be a module-level function and items/results plain data (numpy arrays, ints,
bytes, dataclasses of those) so that the process and Ray backends can ship them inside the
party. Nothing here ever crosses a party boundary.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class ComputeBackend(abc.ABC):
    name: str = "abstract"
    #: Work runs on this machine, beside the caller (threads or local processes). False for a
    #: backend that places work on the party's nodes (Ray): then every CPU-heavy step must go
    #: through :meth:`map`, or it would run outside the nodes' CPU budget, on the driver's host.
    runs_in_process: bool = True

    @property
    @abc.abstractmethod
    def workers(self) -> int:
        """How many chunks run at once: callers split work into at least this many chunks."""

    @abc.abstractmethod
    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """Apply ``fn`` to every item in parallel; results in input order."""

    def starmap(self, fn: Callable[..., R], items: Sequence[tuple[Any, ...]]) -> list[R]:
        return self.map(_Star(fn), items)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release workers."""

    def __enter__(self) -> ComputeBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Star:
    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    def __call__(self, args: tuple[Any, ...]) -> Any:
        return self.fn(*args)


def split(n: int, parts: int) -> list[tuple[int, int]]:
    """Split range(n) into at most ``parts`` contiguous, near-equal (start, stop) slices."""
    parts = max(1, min(parts, n)) if n else 1
    bounds = [n * i // parts for i in range(parts + 1)]
    return [(bounds[i], bounds[i + 1]) for i in range(parts) if bounds[i] < bounds[i + 1]] or [(0, 0)]
