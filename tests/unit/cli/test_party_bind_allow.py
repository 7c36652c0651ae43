"""``silobridge party run --bind-allow`` reaches the node-manager's bind_allow; none = default deny."""

from __future__ import annotations

from pathlib import Path

import pytest

from silobridge.config import SettingsError
from silobridge_cli.main import build_parser
from silobridge_cli.party import SingleProcessParty, config_from_args


def _node_manager_allow(tmp_path: Path, *extra: str) -> list[str]:
    args = build_parser().parse_args(
        ["party", "run", "--party", "9999", "--data-dir", str(tmp_path), "--cert-dir", str(tmp_path),
         "--route-table", str(tmp_path / "routes.yaml"), *extra]
    )  # fmt: skip
    config = config_from_args(args)
    settings = {name: s for name, _, s in SingleProcessParty(config).service_settings()}
    return list(settings["node-manager"].bind_allow)  # type: ignore[attr-defined]


def test_bind_allow_repeated_and_comma_separated(tmp_path: Path) -> None:
    allow = _node_manager_allow(
        tmp_path, "--bind-allow", "/srv/warehouse, /srv/features", "--bind-allow", "postgresql://db:5432/bank"
    )
    assert allow == ["/srv/warehouse", "/srv/features", "postgresql://db:5432/bank"]


def test_no_bind_allow_binds_nothing(tmp_path: Path) -> None:
    assert _node_manager_allow(tmp_path) == []


def test_bad_entry_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="BIND_ALLOW"):
        _node_manager_allow(tmp_path, "--bind-allow", "postgresql://u:secret@db:5432/bank")
