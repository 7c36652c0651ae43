"""Restart recovery (no lost, no stuck jobs) and the CLI against a real HTTP server."""

from __future__ import annotations

import asyncio

import pytest
from flow_support import Cluster, eventually, two_party_job

from silobridge.observability.http import HttpServer, make_app
from silobridge_cli.main import main as cli_main

GUEST, HOST = 9999, 10000


@pytest.fixture
async def two(cluster: Cluster) -> Cluster:
    await cluster.add_party(GUEST, tables=("demo.guest",))
    await cluster.add_party(HOST, tables=("demo.host",))
    await cluster.start_flow(GUEST)
    await cluster.start_flow(HOST)
    return cluster


async def test_restart_keeps_jobs_and_fails_those_whose_tasks_are_gone(two: Cluster) -> None:
    client = two.client(GUEST)
    await client.post("/v1/jobs", content=two_party_job("done"))
    await eventually(lambda: two.flows[GUEST].store.get_job("done").state == "SUCCEEDED")  # type: ignore[union-attr]
    two.parties[HOST].hold.add("stats_0")
    await client.post("/v1/jobs", content=two_party_job("busy"))
    await eventually(
        lambda: (
            (t := two.flows[HOST].store.get_task("busy", HOST, "stats_0")) is not None
            and t.state == "RUNNING"
        )
    )

    await two.stop_flow(HOST)  # the host's flow dies while its task runs
    await two.start_flow(HOST)

    host = two.flows[HOST].store
    assert host.get_job("done").state == "SUCCEEDED"  # type: ignore[union-attr]
    busy = host.get_job("busy")
    assert busy is not None and busy.state == "FAILED"
    assert busy.message == (
        "task stats_0 failed at party 10000: flow at party 10000 restarted while task stats_0 was running; "
        "its outcome is unknown"
    )
    await eventually(lambda: two.flows[GUEST].store.get_job("busy").state == "FAILED")  # type: ignore[union-attr]
    assert [c.task_name for c in two.parties[HOST].cancels()] == ["stats_0"]


async def test_restart_of_a_solo_job_fails_it_instead_of_leaving_it_running(two: Cluster) -> None:
    """The initiator itself restarts: its own lost task fails the job, which stays listed."""
    two.parties[GUEST].hold.add("reader_0")
    solo = (
        two_party_job("solo").replace(", host: [10000]", "").replace("      host: {table: demo.host}\n", "")
    )
    await two.client(GUEST).post("/v1/jobs", content=solo)
    await eventually(lambda: any(r.task_name == "reader_0" for r in two.parties[GUEST].runs()))
    await two.stop_flow(GUEST)
    await two.start_flow(GUEST)
    job = two.flows[GUEST].store.get_job("solo")
    assert job is not None and job.state == "FAILED" and "restarted while task reader_0" in job.message
    assert [j.job_id for j in two.flows[GUEST].store.list_jobs()] == ["solo"]


async def run_cli(*argv: str) -> int:
    return await asyncio.to_thread(cli_main, list(argv))


async def test_cli_submit_wait_status_list_stop_and_data(two: Cluster, tmp_path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    flow = two.flows[GUEST]
    server = HttpServer(make_app("flow", flow.metrics.registry, flow.ready, flow.routes()), "127.0.0.1", 0)
    await server.start()
    try:
        url = server.url
        job = tmp_path / "job.yaml"
        job.write_text(two_party_job("cli_1"))
        assert await run_cli("job", "submit", "-f", str(job), "--flow", url) == 1
        assert capsys.readouterr().err.strip() == (
            "error: missing bearer token (Authorization: Bearer <token>)"
        )
        monkeypatch.setenv("SILOBRIDGE_TOKEN", two.admin_tokens[GUEST])
        assert await run_cli("job", "submit", "-f", str(job), "--wait", "--flow", url, "--poll", "0.05") == 0
        out = capsys.readouterr().out
        assert out.splitlines()[0] == "cli_1"
        assert "job cli_1: SUCCEEDED" in out and "stats_0" in out and "rows=10" in out

        assert await run_cli("job", "status", "cli_1", "--flow", url) == 0
        assert "job cli_1: SUCCEEDED" in capsys.readouterr().out
        assert await run_cli("job", "list", "--flow", url) == 0
        assert capsys.readouterr().out.startswith("cli_1")

        assert await run_cli("job", "submit", "-f", str(job), "--flow", url) == 1
        assert capsys.readouterr().err.strip() == "error: job cli_1 already exists"
        assert await run_cli("job", "stop", "cli_1", "--flow", url) == 1
        assert "already ended: SUCCEEDED" in capsys.readouterr().err

        csv = tmp_path / "x.csv"
        csv.write_text("id,x,y\na,1,0\nb,2,1\n")
        args = [
            "data",
            "upload",
            "--file",
            str(csv),
            "--namespace",
            "demo",
            "--name",
            "x",
            "--id-column",
            "id",
        ]
        assert await run_cli(*args, "--label-column", "y", "--flow", url) == 0
        assert "stored demo.x: 2 rows" in capsys.readouterr().out
        assert await run_cli(*args, "--label-column", "nope", "--flow", url) == 1
        assert "label column 'nope' not found" in capsys.readouterr().err
        assert await run_cli("data", "list", "--flow", url) == 0
        assert "demo.x" in capsys.readouterr().out
    finally:
        await server.stop()
    assert await run_cli("job", "list", "--flow", "http://127.0.0.1:9") == 1
    assert "cannot reach flow at http://127.0.0.1:9" in capsys.readouterr().err
