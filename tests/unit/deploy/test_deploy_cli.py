"""`silobridge cluster ...` as a user types it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from deploy_helpers import DEPLOY, minimal

from silobridge_cli.main import main


def test_validate_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cluster", "validate", "-f", str(DEPLOY / "examples" / "cluster-10000.yaml")]) == 0
    out = capsys.readouterr().out
    assert "valid. party 10000 (insurer-b)" in out
    assert "3 node-manager(s) with processes compute, 2 route(s), default route" in out


def test_validate_reports_the_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "cluster.yaml"
    bad.write_text(yaml.safe_dump(minimal(flow={"port": "9380x"})))
    assert main(["cluster", "validate", "-f", str(bad)]) == 1
    assert "flow.port: '9380x' is not of type 'integer'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("target", "files"),
    [
        ("helm", ["values.yaml"]),
        ("compose", ["docker-compose.yaml", "routes"]),
        ("local", ["plan.json"]),
    ],
)
def test_render_each_target(target: str, files: list[str], tmp_path: Path) -> None:
    src = DEPLOY / "examples" / "cluster-10001.yaml"
    assert main(["cluster", "render", "-f", str(src), "--target", target, "-o", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(files)


def test_schema_prints_the_published_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cluster", "schema"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(
        (DEPLOY / "schema" / "cluster.schema.json").read_text()
    )


def test_down_without_a_cluster_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cluster", "down", "--data-dir", str(tmp_path)]) == 1
    assert "no cluster started in" in capsys.readouterr().err


def test_up_refuses_without_certificates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "cluster.yaml"
    src.write_text(yaml.safe_dump(minimal()))
    assert main(["cluster", "up", "-f", str(src), "--data-dir", str(tmp_path / "d")]) == 1
    err = capsys.readouterr().err
    assert "missing files:" in err
    assert "party-9999.key" in err
    assert "silobridge pki demo" in err
