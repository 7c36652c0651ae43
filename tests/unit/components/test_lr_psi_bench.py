"""``make bench-lr`` and ``make bench-psi`` run end to end on small inputs and write what they promise."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from silobridge.bench import lr_bench, psi_bench
from silobridge.bench.lr_phases import PHASES


@pytest.mark.slow
def test_bench_lr_writes_the_issue_shape_with_phases_per_party_and_epoch(tmp_path: Path) -> None:
    assert lr_bench.main(["--out-dir", str(tmp_path), "--runs", "breast:1024", "--workers", "1"]) == 0
    results = json.loads((tmp_path / "lr.json").read_text())
    assert {"cpu_model", "cores", "loadavg_before", "loadavg_after"} <= set(results["machine"])
    (run,) = results["runs"]
    assert (run["dataset"], run["key_bits"], run["epochs"]) == ("breast", 1024, 10)
    assert run["seconds"] > 0 and run["auc"] >= 0.99
    assert run["cpu_seconds"] > 0 and run["kernel"] in ("python", "native", "native+ifma")
    assert results["machine"]["paillier_kernel"] == run["kernel"]
    assert set(run["phases"]) == set(PHASES)
    assert run["phases"]["encrypt"] > 0 and run["phases"]["dot"] > 0 and run["phases"]["decrypt"] > 0
    assert set(run["by_party"]) == {"guest", "host", "arbiter"}
    epochs = [row for row in run["per_epoch"] if row["epoch"] != "setup"]
    assert [row["epoch"] for row in epochs] == [str(e) for e in range(10)]
    for row in epochs:
        for role in ("guest", "host", "arbiter"):
            phases = row[role]
            assert sum(phases[p] for p in PHASES) == pytest.approx(phases["wall"], abs=1e-3)
    assert results["criteria"][0]["run"] == "breast@1024"
    assert "breast" in (tmp_path / "lr.md").read_text()


def test_bench_lr_bad_runs_exit_2(tmp_path: Path) -> None:
    assert lr_bench.main(["--out-dir", str(tmp_path), "--runs", "mnist:1024"]) == 2
    assert not (tmp_path / "lr.json").exists()


def test_bench_psi_finds_exactly_the_true_intersection(tmp_path: Path) -> None:
    assert psi_bench.main(["--out-dir", str(tmp_path), "--rows", "400", "--workers", "1"]) == 0
    run = json.loads((tmp_path / "psi.json").read_text())["run"]
    assert run["exact"] and run["intersection"] == run["true_intersection"] == 200
    assert run["cpu_seconds"] > 0 and isinstance(run["native_x25519"], bool)
    assert psi_bench.main(["--out-dir", str(tmp_path), "--rows", "5"]) == 2
