"""``silobridge party run --bind-allow`` reaches the node-manager's bind_allow (none = default deny),
and ``--recv-timeout`` its task_recv_timeout_s."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from silobridge.config import SettingsError
from silobridge_cli.main import build_parser
from silobridge_cli.party import SingleProcessParty, config_from_args


def _node_manager(tmp_path: Path, *extra: str) -> Any:
    args = build_parser().parse_args(
        ["party", "run", "--party", "9999", "--data-dir", str(tmp_path), "--cert-dir", str(tmp_path),
         "--route-table", str(tmp_path / "routes.yaml"), *extra]
    )  # fmt: skip
    config = config_from_args(args)
    return {name: s for name, _, s in SingleProcessParty(config).service_settings()}["node-manager"]


def _node_manager_allow(tmp_path: Path, *extra: str) -> list[str]:
    return list(_node_manager(tmp_path, *extra).bind_allow)


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


def test_recv_timeout_reaches_the_tasks_of_the_node_manager(tmp_path: Path) -> None:
    assert _node_manager(tmp_path).task_recv_timeout_s == 600
    assert _node_manager(tmp_path, "--recv-timeout", "7200").task_recv_timeout_s == 7200
