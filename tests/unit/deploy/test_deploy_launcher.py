"""`cluster up/down/status` machinery: real OS processes (a stand-in service), pids, readiness, stop."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from deploy_helpers import FAKE_SERVICE

from silobridge.errors import InvalidInput
from silobridge_cli.deploy.launcher import ClusterStartError, LocalCluster, launch

pytestmark = pytest.mark.multiprocess


def plan(tmp_path: Path, *procs: dict[str, Any], requires: list[str] | None = None) -> dict[str, Any]:
    return {
        "version": 1,
        "party_id": 9999,
        "data_dir": str(tmp_path / "data"),
        "files": {"routes.yaml": "self: 9999\n"},
        "requires": requires or [],
        "endpoints": {"router-grpc": "127.0.0.1:19370"},
        "processes": list(procs),
    }


def fake(name: str, port: int = 0, **env: str) -> dict[str, Any]:
    return {
        "name": name,
        "argv": ["python", str(FAKE_SERVICE)],
        "env": {"SILOBRIDGE_PARTY_ID": "9999", "SILOBRIDGE_HTTP_PORT": str(port), **env},
        "ready": {"http": f"127.0.0.1:{port}", "path": "/readyz"},
    }


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"


def test_launch_waits_until_ready_then_stops(tmp_path: Path) -> None:
    cluster = launch(plan(tmp_path, fake("a", FAKE_READY_AFTER_S="0.5"), fake("b")), ready_timeout_s=20)
    try:
        assert set(cluster.urls) == {"a", "b"}
        for url in cluster.urls.values():  # free ports were picked and passed to the processes
            reply = httpx.get(url + "/readyz", trust_env=False)
            assert reply.status_code == 200
            assert reply.text == "9999"
        state = json.loads((tmp_path / "data" / "cluster-state.json").read_text())
        assert {p["name"]: p["pid"] for p in state["processes"]} == cluster.pids
        assert state["urls"] == cluster.urls
        assert (tmp_path / "data" / "routes.yaml").read_text() == "self: 9999\n"
        assert all(s.ready for s in cluster.status())
    finally:
        codes = cluster.stop(grace_s=10)
    assert codes == {"a": 0, "b": 0}  # SIGTERM, clean exit
    assert not (tmp_path / "data" / "cluster-state.json").exists()


def test_another_process_can_attach_and_stop(tmp_path: Path) -> None:
    started = launch(plan(tmp_path, fake("a")), ready_timeout_s=20)
    try:
        attached = LocalCluster.attach(tmp_path / "data")
        assert attached.pids == started.pids
        assert attached.party_id == 9999
        assert [s.ready for s in attached.status()] == [True]
        with pytest.raises(InvalidInput, match="already running"):
            launch(plan(tmp_path, fake("a")), ready_timeout_s=5)
        attached.stop(grace_s=10)
        assert gone(started.pids["a"])
    finally:
        started.stop(grace_s=1)


def test_a_process_ignoring_sigterm_is_killed_after_the_grace_period(tmp_path: Path) -> None:
    cluster = launch(plan(tmp_path, fake("stubborn", FAKE_IGNORE_SIGTERM="1")), ready_timeout_s=20)
    t0 = time.monotonic()
    codes = cluster.stop(grace_s=0.5)
    assert codes["stubborn"] == -9
    assert time.monotonic() - t0 < 5


def test_a_process_that_dies_at_start_fails_launch_with_its_log(tmp_path: Path) -> None:
    with pytest.raises(ClusterStartError) as err:
        launch(plan(tmp_path, fake("ok"), fake("broken", FAKE_EXIT="3")), ready_timeout_s=20)
    message = str(err.value)
    assert "broken exited during start-up (exit code 3)" in message
    assert "failing on purpose" in message
    assert not (tmp_path / "data" / "cluster-state.json").exists()  # the healthy one was stopped too


def test_not_ready_in_time_stops_everything(tmp_path: Path) -> None:
    with pytest.raises(ClusterStartError, match="not ready after 1 s: slow"):
        launch(plan(tmp_path, fake("slow", FAKE_READY_AFTER_S="60")), ready_timeout_s=1)


def test_missing_certificates_are_named_before_anything_starts(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"missing files: .*party-9999\.key"):
        launch(plan(tmp_path, fake("a"), requires=[str(tmp_path / "party-9999.key")]))
    assert not (tmp_path / "data").exists()


def test_inherited_silobridge_variables_do_not_leak(tmp_path: Path) -> None:
    """Only the plan sets SILOBRIDGE_*: a stray SILOBRIDGE_PARTY_ID in the shell must not win."""
    proc = fake("a")
    del proc["env"]["SILOBRIDGE_PARTY_ID"]
    base = {"PATH": os.environ.get("PATH", ""), "SILOBRIDGE_PARTY_ID": "4242"}
    with launch(plan(tmp_path, proc), ready_timeout_s=20, base_env=base) as cluster:
        assert httpx.get(cluster.urls["a"] + "/readyz", trust_env=False).text == ""
