"""Default backend: a thread pool (serial when workers=1) or a process pool."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from typing import TypeVar

from silobridge.compute.base import ComputeBackend

T = TypeVar("T")
R = TypeVar("R")


class LocalBackend(ComputeBackend):
    name = "local"

    def __init__(self, workers: int | None = None, *, processes: bool = False) -> None:
        self._workers = max(1, workers or os.cpu_count() or 1)
        self._processes = processes
        self._pool: Executor | None = None

    @property
    def workers(self) -> int:
        return self._workers

    def _executor(self) -> Executor:
        if self._pool is None:
            if self._processes:
                import multiprocessing

                self._pool = ProcessPoolExecutor(
                    self._workers, mp_context=multiprocessing.get_context("spawn")
                )
            else:
                self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="compute")
        return self._pool

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        if self._workers == 1 or len(items) <= 1:
            return [fn(item) for item in items]
        return list(self._executor().map(fn, items))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
