"""``make bench-router`` runs end to end on a few small messages and writes its report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rollsite_router import bench_router

pytestmark = pytest.mark.multiprocess


def test_bench_compares_the_router_path_with_the_raw_socket(tmp_path: Path) -> None:
    bench_router.main(["--rounds", "1", "--sizes", "65536:6:3,1024:20:3", "--out", str(tmp_path)])
    result = json.loads((tmp_path / "router.json").read_text())
    rows = {(r["path"], r["payload_bytes"]): r for r in result["rows"]}
    assert set(rows) == {(p, s) for p in ("raw", "router") for s in (65536, 1024)}
    for row in rows.values():
        assert row["msgs_per_s"] > 0 and 0 < row["p50_ms"] <= row["p99_ms"]
        assert row["sender_cpu_ms_per_msg"] > 0 and row["receiver_cpu_ms_per_msg"] > 0
    for size in ("65536", "1024"):
        ratio = rows[("router", int(size))]["mb_per_s"] / rows[("raw", int(size))]["mb_per_s"]
        assert result["router_over_raw"][size] == pytest.approx(ratio, abs=1e-3)
    assert "router / raw at 65536 B" in (tmp_path / "router.md").read_text()


def test_bad_sizes_exit_with_usage(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        bench_router.main(["--sizes", "4:1:1", "--out", str(tmp_path)])
    assert exc.value.code == 2
    assert not (tmp_path / "router.json").exists()
