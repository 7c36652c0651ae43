"""The router as its own process: starts from SILOBRIDGE_* variables, stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import signal
import sys

import pytest
from router_itest_helpers import A, B, router_process_env

from rollsite_router.__main__ import main
from silobridge.service import ExitCode


@pytest.mark.multiprocess
async def test_process_serves_and_exits_zero_on_sigterm(pki_dir, tmp_path):
    env = router_process_env(pki_dir, tmp_path, A, B)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "rollsite_router", env=env, stderr=asyncio.subprocess.PIPE
    )
    assert proc.stderr is not None
    events = []
    try:
        while "ready" not in events:
            line = await asyncio.wait_for(proc.stderr.readline(), 30)
            assert line, "router exited before it was ready"
            events.append(json.loads(line).get("event"))
        assert "listening" in events
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == ExitCode.OK
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def test_bad_route_table_is_a_settings_error(pki_dir, tmp_path, monkeypatch, capsys, restore_logging):
    routes = tmp_path / "routes.yaml"
    routes.write_text(f"self: {A}\nroutes:\n  10000: {{host: 127.0.0.1, port: 0}}\n")
    for key, value in {
        "SILOBRIDGE_PARTY_ID": str(A),
        "SILOBRIDGE_CERT_DIR": str(pki_dir),
        "SILOBRIDGE_ROUTE_TABLE": str(routes),
        "SILOBRIDGE_LOG_JSON": "false",
    }.items():
        monkeypatch.setenv(key, value)
    assert main() == ExitCode.BAD_SETTINGS
    assert "line 3 routes.10000.port" in capsys.readouterr().out


def test_missing_certificates_are_a_settings_error(monkeypatch, capsys):
    monkeypatch.setenv("SILOBRIDGE_CERT_DIR", "does-not-exist")
    assert main() == ExitCode.BAD_SETTINGS
    assert "does-not-exist/ca.crt: cannot read" in capsys.readouterr().out
