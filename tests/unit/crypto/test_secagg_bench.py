"""The secure-aggregation benchmark runs end to end on a tiny model and writes its report."""

from __future__ import annotations

import json
from pathlib import Path

from silobridge.bench import secagg_bench


def test_bench_writes_round_times_overhead_and_bytes(tmp_path: Path) -> None:
    argv = [
        "--out-dir",
        str(tmp_path),
        "--clients",
        "2,3",
        "--params",
        "300",
        "--rounds",
        "1",
        "--repeats",
        "1",
    ]
    assert secagg_bench.main(argv) == 0
    results = json.loads((tmp_path / "secagg.json").read_text())
    assert [r["clients"] for r in results["runs"]] == [2, 3]
    for r in results["runs"]:
        assert abs(r["parameters"] - 300) < 30
        assert r["round_s"]["plain"] > 0 and r["round_s"]["secure"] > 0
        sent = r["bytes_sent_per_client_per_round"]
        assert sent["secure"] > sent["plain"] > 8 * r["parameters"]  # keys and shares on top of the vector
    assert results["criterion"]["clients"] == 3
    assert "| 3 |" in (tmp_path / "secagg.md").read_text()


def test_bad_arguments_exit_2(tmp_path: Path) -> None:
    assert secagg_bench.main(["--out-dir", str(tmp_path), "--clients", "1"]) == 2
    assert not (tmp_path / "secagg.json").exists()
