"""Deduplicator: message ids remembered across a process restart when persisted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from silobridge.bus.dedup import Deduplicator


def test_in_memory_dedup_forgets_the_oldest_beyond_capacity() -> None:
    dedup = Deduplicator(capacity=2)
    for mid in ("a", "b", "c"):
        assert not dedup.seen(mid)
        dedup.mark(mid)
    assert [dedup.seen(m) for m in ("a", "b", "c")] == [False, True, True]


def test_persisted_ids_survive_a_new_instance(tmp_path: Path) -> None:
    path = tmp_path / "state" / "dedup.sqlite"
    first = Deduplicator(path=path)
    first.mark("m-1")
    first.close()
    second = Deduplicator(capacity=1, path=path)
    assert second.seen("m-1")
    assert not second.seen("m-2")
    second.mark("m-2")
    second.mark("m-3")  # pushes m-2 out of the in-memory cache, not out of the database
    assert second.seen("m-2")
    second.close()


@pytest.mark.multiprocess
def test_mark_is_durable_when_the_process_dies_right_after(tmp_path: Path) -> None:
    """The crash case: the writer is killed without closing; the next process still knows."""
    path = tmp_path / "dedup.sqlite"
    code = (
        "import os, sys; from pathlib import Path; from silobridge.bus.dedup import Deduplicator; "
        "d = Deduplicator(path=Path(sys.argv[1])); d.mark('crashed-1'); os._exit(9)"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(path)], check=False, timeout=60)
    assert proc.returncode == 9
    survivor = Deduplicator(path=path)
    assert survivor.seen("crashed-1")
    survivor.close()


def test_marking_twice_is_harmless(tmp_path: Path) -> None:
    dedup = Deduplicator(path=tmp_path / "d.sqlite")
    dedup.mark("x")
    dedup.mark("x")
    assert dedup.seen("x")
    dedup.close()
