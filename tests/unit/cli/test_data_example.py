"""`silobridge data example`: the demo's CSVs on disk, split exactly as `make demo` uploads them."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from silobridge_cli import demo_data
from silobridge_cli.demo import load_config
from silobridge_cli.main import main


def read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    return list(reader.fieldnames or []), rows


def test_writes_the_demo_split_and_names_the_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "data"
    assert main(["data", "example", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out / 'guest.csv'}: 512 rows" in printed
    assert f"wrote {out / 'host.csv'}: 512 rows" in printed
    assert "--name breast_guest --id-column id --label-column y" in printed  # what the example job reads

    guest_cols, guest = read(out / "guest.csv")
    host_cols, host = read(out / "host.csv")
    assert guest_cols == ["id", "y", *(f"g{j}" for j in range(10))]
    assert host_cols == ["id", *(f"h{j}" for j in range(20))]  # the label is the guest's only
    assert {r["y"] for r in guest} == {"0", "1"}
    assert all(float(v) == float(v) for r in host for k, v in r.items() if k != "id")  # numbers
    guest_ids, host_ids = {r["id"] for r in guest}, {r["id"] for r in host}
    assert len(guest_ids) == len(guest) and len(host_ids) == len(host)  # ids unique
    # as the demo: 569 rows, 10% (57) of ids on each side missing from the other
    assert len(guest_ids & host_ids) == 455
    assert len(guest_ids - host_ids) == len(host_ids - guest_ids) == 57

    config = load_config("breast_cancer")  # byte for byte what `make demo` uploads
    x, y = demo_data.load(config["dataset"])
    split = demo_data.split(x, y, config["guest_features"], private_fraction=config["private_fraction"])
    assert (out / "guest.csv").read_bytes() == split.guest_csv
    assert (out / "host.csv").read_bytes() == split.host_csv


def test_refuses_to_overwrite_without_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "host.csv").write_text("mine\n")
    assert main(["data", "example", "--out", str(tmp_path)]) == 1
    assert f"{tmp_path / 'host.csv'} already exists: pass --force" in capsys.readouterr().err
    assert (tmp_path / "host.csv").read_text() == "mine\n"
    assert not (tmp_path / "guest.csv").exists()  # nothing written

    assert main(["data", "example", "--out", str(tmp_path), "--force"]) == 0
    assert read(tmp_path / "host.csv")[0][0] == "id"


def test_synthetic_dataset(tmp_path: Path) -> None:
    assert main(["data", "example", "--out", str(tmp_path), "--dataset", "synthetic"]) == 0
    guest_cols, guest = read(tmp_path / "guest.csv")
    host_cols, host = read(tmp_path / "host.csv")
    assert (len(guest_cols), len(host_cols)) == (2 + 20, 1 + 20)  # id, y, 20 | id, 20
    assert len(guest) == len(host) == 18000  # 20,000 rows less the 10% the other side lacks
    assert len({r["id"] for r in guest} & {r["id"] for r in host}) == 16000
