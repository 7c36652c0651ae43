"""A broker that does not answer skips its tests on a laptop, and fails them, by name, in CI."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

PROBE = Path(__file__).with_name("gate_probe.py")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again once we return: nothing listens there


def _run(**env: str) -> subprocess.CompletedProcess[str]:
    port = _closed_port()
    full = {k: v for k, v in os.environ.items() if k != "SILOBRIDGE_REQUIRE_BROKERS"}
    full.update(SILOBRIDGE_TEST_PULSAR_URL=f"pulsar://127.0.0.1:{port}", **env)
    return subprocess.run(
        [sys.executable, "-m", "pytest", str(PROBE), "-k", "pulsar", "-rA", "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
        env=full,
        timeout=120,
        cwd=Path(__file__).parents[3],
    )


def test_absent_broker_is_a_skip_with_its_name_by_default() -> None:
    done = _run()
    assert done.returncode == 0, done.stdout
    assert "1 skipped" in done.stdout
    assert "pulsar unreachable: nothing answers at 127.0.0.1:" in done.stdout


def test_absent_required_broker_fails_and_names_it() -> None:
    done = _run(SILOBRIDGE_REQUIRE_BROKERS="rabbitmq,pulsar")
    assert done.returncode == 1, done.stdout
    assert "pulsar is required (SILOBRIDGE_REQUIRE_BROKERS) but nothing answers at 127.0.0.1:" in done.stdout
    assert "skipped" not in done.stdout.splitlines()[-1]
