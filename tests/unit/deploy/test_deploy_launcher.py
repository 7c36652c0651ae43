"""`cluster up/down/status/restart` machinery: real OS processes (a stand-in service), pids, readiness, stop."""

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
from silobridge_cli.main import main

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


def test_restart_one_process_keeps_its_port_and_the_others(tmp_path: Path) -> None:
    cluster = launch(plan(tmp_path, fake("a"), fake("b")), ready_timeout_s=20)
    try:
        before = dict(cluster.pids)
        routes = tmp_path / "data" / "routes.yaml"
        routes.write_text("self: 9999\nroutes: {10002: {host: 127.0.0.1, port: 19670}}\n")  # peer add
        (restarted,) = cluster.restart(["a"], grace_s=10, ready_timeout_s=20)
        assert restarted.name == "a"
        assert cluster.pids["a"] != before["a"] and gone(before["a"])
        assert cluster.pids["b"] == before["b"]  # untouched
        assert httpx.get(cluster.urls["a"] + "/readyz", trust_env=False).text == "9999"  # same port
        assert LocalCluster.attach(tmp_path / "data").pids == cluster.pids  # state file follows
        assert "10002" in routes.read_text()  # no file of the plan is written again
    finally:
        cluster.stop(grace_s=10)


def test_restart_from_another_process_restarts_everything(tmp_path: Path) -> None:
    started = launch(plan(tmp_path, fake("a"), fake("b")), ready_timeout_s=20)
    attached = LocalCluster.attach(tmp_path / "data")
    try:
        attached.restart(grace_s=10, ready_timeout_s=20)
        assert all(attached.pids[n] != started.pids[n] for n in ("a", "b"))
        assert all(gone(pid) for pid in started.pids.values())
        assert [s.ready for s in LocalCluster.attach(tmp_path / "data").status()] == [True, True]
        assert (tmp_path / "data" / "cluster-state.json").stat().st_mode & 0o077 == 0  # holds URLs
    finally:
        attached.stop(grace_s=10)
        started.stop(grace_s=1)


def test_restart_names_unknown_processes_and_old_state_files(tmp_path: Path) -> None:
    with launch(plan(tmp_path, fake("a")), ready_timeout_s=20) as cluster:
        with pytest.raises(InvalidInput, match=r"no process 'flow' in .*: one of a"):
            cluster.restart(["flow"])
        state_file = tmp_path / "data" / "cluster-state.json"
        state = json.loads(state_file.read_text())
        del state["processes"][0]["env"]  # as written before restart existed
        state_file.write_text(json.dumps(state))
        with pytest.raises(InvalidInput, match="started by an older silobridge"):
            LocalCluster.attach(tmp_path / "data").restart()
        assert cluster.status()[0].ready  # refused before stopping anything


def test_a_process_that_fails_to_restart_is_named_and_the_others_keep_running(tmp_path: Path) -> None:
    cluster = launch(plan(tmp_path, fake("a"), fake("b")), ready_timeout_s=20)
    try:
        state_file = tmp_path / "data" / "cluster-state.json"
        state = json.loads(state_file.read_text())
        state["processes"][0]["env"]["FAKE_EXIT"] = "3"
        state_file.write_text(json.dumps(state))
        attached = LocalCluster.attach(tmp_path / "data")
        with pytest.raises(ClusterStartError, match=r"a exited during start-up \(exit code 3\)"):
            attached.restart(["a"], ready_timeout_s=20)
        assert [(s.name, s.alive) for s in LocalCluster.attach(tmp_path / "data").status()] == [
            ("a", False),
            ("b", True),
        ]
    finally:
        cluster.stop(grace_s=10)


def test_cluster_restart_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with launch(plan(tmp_path, fake("a"), fake("b")), ready_timeout_s=20) as cluster:
        data = str(tmp_path / "data")
        assert main(["cluster", "restart", "--data-dir", data, "--service", "b", "--timeout", "20"]) == 0
        out = capsys.readouterr().out
        assert f"restarted 1 process(es) of party 9999 from {data}" in out
        now = LocalCluster.attach(tmp_path / "data")
        assert now.pids["a"] == cluster.pids["a"] and now.pids["b"] != cluster.pids["b"]
        assert f"pid {now.pids['b']}" in out
        assert main(["cluster", "restart", "--data-dir", data, "--service", "c"]) == 1
        assert "no process 'c'" in capsys.readouterr().err
        now.stop(grace_s=10)
