"""The local compute backend (threads or processes) and the backend factory."""

from __future__ import annotations

import os

import pytest

from silobridge.compute.base import ComputeBackend, split
from silobridge.compute.factory import create_compute
from silobridge.compute.local import LocalBackend
from silobridge.errors import InvalidInput


def square(x: int) -> int:
    return x * x


def pid(_: int) -> int:
    return os.getpid()


def add(a: int, b: int) -> int:
    return a + b


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_thread_map_keeps_order(workers: int) -> None:
    with LocalBackend(workers) as b:
        assert b.workers == workers
        assert b.map(square, list(range(50))) == [i * i for i in range(50)]
        assert b.map(square, []) == []
        assert b.starmap(add, [(1, 2), (3, 4)]) == [3, 7]


@pytest.mark.multiprocess
def test_process_map_runs_in_other_processes() -> None:
    b = LocalBackend(2, processes=True)
    try:
        assert b.map(square, list(range(20))) == [i * i for i in range(20)]
        assert os.getpid() not in set(b.map(pid, [0, 1, 2, 3]))
    finally:
        b.close()


def test_default_workers_is_cpu_count() -> None:
    assert LocalBackend().workers == max(1, os.cpu_count() or 1)
    assert LocalBackend(0).workers >= 1


def test_errors_propagate() -> None:
    def boom(_: int) -> int:
        raise ValueError("bad chunk")

    with LocalBackend(2) as b, pytest.raises(ValueError, match="bad chunk"):
        b.map(boom, [1, 2])


@pytest.mark.parametrize(("n", "parts"), [(10, 3), (3, 8), (0, 4), (7, 1), (100, 7)])
def test_split_covers_range(n: int, parts: int) -> None:
    bounds = split(n, parts)
    covered = [i for lo, hi in bounds for i in range(lo, hi)]
    assert covered == list(range(n))
    assert len(bounds) <= max(1, parts)
    if n:
        sizes = [hi - lo for lo, hi in bounds]
        assert max(sizes) - min(sizes) <= 1


def test_factory() -> None:
    b = create_compute("local", workers=3)
    assert isinstance(b, ComputeBackend) and b.workers == 3
    assert create_compute("processes", workers=2).workers == 2
    with pytest.raises(InvalidInput, match="unknown compute backend"):
        create_compute("gpu")
