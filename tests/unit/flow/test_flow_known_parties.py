"""Flow's known parties follow the router's route table while it runs: a peer added to the file
is accepted in the next job, a removed one is not, and a broken file keeps the parties known before."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from flow import jobspec
from flow.settings import FlowSettings
from silobridge.config import SettingsError, load_settings
from silobridge.errors import InvalidInput

ME, PEER, NEW = 9999, 10000, 10002


def _write(path: Path, text: str) -> None:
    path.write_text(text)
    st = path.stat()  # a distinct mtime even on a coarse clock
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def _routes(*peers: int) -> str:
    lines = "".join(f"  {p}: {{host: 127.0.0.1, port: {9000 + i}}}\n" for i, p in enumerate(peers))
    return f"self: {ME}\nroutes:\n{lines}"


def _settings(tmp_path: Path, table: Path) -> FlowSettings:
    return load_settings(FlowSettings, {}, party_id=ME, data_dir=tmp_path / "flow", route_table=table)


def _job(guest: int, host: int) -> str:
    return (
        f"initiator: {{role: guest, party_id: {guest}}}\n"
        f"parties: {{guest: [{guest}], host: [{host}]}}\n"
        "components:\n"
        "  - {name: reader_0, component: reader, role_params: {guest: {table: a.b}, host: {table: c.d}}}\n"
    )


def test_a_peer_added_to_the_route_table_is_known_at_the_next_job(tmp_path: Path, caplog) -> None:
    table = tmp_path / "routes.yaml"
    _write(table, _routes(PEER))
    known = _settings(tmp_path, table).live_parties()
    rules = jobspec.SpecRules(self_party=ME, known_parties=known)
    assert set(known) == {ME, PEER}
    with pytest.raises(InvalidInput, match=f"unknown party {NEW}"):
        jobspec.parse_job_yaml(_job(ME, NEW), rules)

    _write(table, _routes(PEER, NEW))
    jobspec.parse_job_yaml(_job(ME, NEW), rules)

    _write(table, "self: [broken\n")
    with caplog.at_level(logging.ERROR):
        assert NEW in known
    assert "keeping the 3 parties known before" in caplog.text

    _write(table, _routes(NEW))
    assert PEER not in known and NEW in known


def test_an_unreadable_route_table_at_start_is_a_settings_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot read"):
        _settings(tmp_path, tmp_path / "missing.yaml").live_parties()
