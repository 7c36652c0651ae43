"""The SDK and the CLI against a real flow HTTP server: submit, wait with a progress bar,
metrics and models from the SDK; ``--output json`` and the job progress bar from the CLI."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from flow_support import Cluster

from silobridge.errors import InvalidInput, Unauthenticated
from silobridge.observability.http import HttpServer, make_app
from silobridge.sdk import Pipeline
from silobridge.sdk import components as c
from silobridge_cli.main import main as cli_main

GUEST, HOST = 9999, 10000


@pytest.fixture
async def flow_url(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    await cluster.add_party(GUEST, tables=("demo.guest",))
    await cluster.add_party(HOST, tables=("demo.host",))
    flow = await cluster.start_flow(GUEST)
    await cluster.start_flow(HOST)
    server = HttpServer(make_app("flow", flow.metrics.registry, flow.ready, flow.routes()), "127.0.0.1", 0)
    await server.start()
    monkeypatch.setenv("SILOBRIDGE_TOKEN", cluster.admin_tokens[GUEST])
    try:
        yield server.url
    finally:
        await server.stop()


def stats_pipeline(job_id: str) -> Pipeline:
    pipe = Pipeline(guest=GUEST, host=HOST, initiator=GUEST, timeout_s=60, job_id=job_id)
    reader = pipe.add(c.reader().at("guest", table="demo.guest").at("host", table="demo.host"))
    first = pipe.add(c.column_stats(data=reader.outputs.data))
    pipe.add(c.column_stats(inputs={"data": reader.outputs.data, "previous": first.outputs.model}))
    return pipe


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


async def test_sdk_submits_waits_with_a_bar_and_reads_metrics_and_models(flow_url: str) -> None:
    job = await asyncio.to_thread(stats_pipeline("sdk_1").submit, flow_url)
    assert job.job_id == "sdk_1"
    bar = io.StringIO()
    detail = await asyncio.to_thread(job.wait, 30, progress=True, stream=bar, poll_s=0.05)
    assert detail["state"] == "SUCCEEDED"
    # 3 tasks at each of 2 parties; the last redraw is the finished job
    assert bar.getvalue().rsplit("\r", 1)[-1].split() == [
        "[" + "#" * 30 + "]",
        "100.0%",
        "6/6",
        "tasks",
        "SUCCEEDED",
    ]
    assert job.summary("column_stats_0") == {"rows": 10.0}  # from the last detail read, no request
    assert await asyncio.to_thread(job.metrics, "column_stats_1") == {
        "loss": [(0, 1.0), (1, 0.5), (2, pytest.approx(1 / 3))]
    }
    assert sorted(await asyncio.to_thread(job.models)) == ["column_stats_0", "column_stats_1"]
    assert await asyncio.to_thread(job.model, "column_stats_1") == {"weights": 1.5, "task": "column_stats_1"}


async def test_sdk_reports_flows_refusal_and_a_missing_token(
    flow_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipe = Pipeline(guest=GUEST, host=HOST, arbiter=10001, initiator=GUEST, job_id="sdk_2")
    pipe.add(c.reader(table="demo.guest"))
    with pytest.raises(InvalidInput, match=r"parties.arbiter\[0\]: unknown party 10001"):
        await asyncio.to_thread(pipe.submit, flow_url)
    monkeypatch.delenv("SILOBRIDGE_TOKEN")
    with pytest.raises(Unauthenticated, match="missing bearer token"):
        await asyncio.to_thread(stats_pipeline("sdk_3").submit, flow_url)


async def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = await asyncio.to_thread(cli_main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


async def cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code, out, err = await cli(capsys, *argv, "--output", "json")
    assert code == 0, err
    return json.loads(out)  # the whole of stdout is one JSON document


async def test_cli_prints_json_for_jobs_tables_and_tokens(
    flow_url: str, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    job_file = tmp_path / "job.yaml"
    job_file.write_text(stats_pipeline("cli_json").to_yaml())
    done = await cli_json(
        capsys, "job", "submit", "-f", str(job_file), "--wait", "--poll", "0.05", "--flow", flow_url
    )
    assert done["job_id"] == "cli_json" and done["state"] == "SUCCEEDED"
    assert {(t["name"], t["party_id"]) for t in done["tasks"]} == {
        (n, p) for n in ("reader_0", "column_stats_0", "column_stats_1") for p in (GUEST, HOST)
    }
    status = await cli_json(capsys, "job", "status", "cli_json", "--flow", flow_url)
    assert status["state"] == "SUCCEEDED" and status["dag"][2]["needs"] == ["column_stats_0", "reader_0"]
    waited = await cli_json(capsys, "job", "wait", "cli_json", "--flow", flow_url)
    assert waited["state"] == "SUCCEEDED"
    listed = await cli_json(capsys, "job", "list", "--flow", flow_url)
    assert [(j["job_id"], j["state"]) for j in listed] == [("cli_json", "SUCCEEDED")]
    assert await cli_json(capsys, "job", "pending", "--flow", flow_url) == []

    tables = await cli_json(capsys, "table", "list", "--flow", flow_url)
    assert [(t["namespace"], t["name"], int(t["rows"])) for t in tables] == [("demo", "guest", 10)]
    table = await cli_json(capsys, "table", "describe", "demo.guest", "--flow", flow_url)
    assert (table["name"], table["id_column"]) == ("guest", "id")
    assert [t["name"] for t in await cli_json(capsys, "data", "list", "--flow", flow_url)] == ["guest"]
    created = await cli_json(
        capsys, "token", "create", "--name", "ci", "--role", "viewer", "--flow", flow_url
    )
    assert created["token"] and created["role"] == "viewer"
    tokens = await cli_json(capsys, "token", "list", "--flow", flow_url)
    assert "ci" in [t["name"] for t in tokens] and all("token" not in t for t in tokens)

    # the text form is unchanged
    code, out, _ = await cli(capsys, "job", "status", "cli_json", "--flow", flow_url)
    assert code == 0 and out.startswith("job cli_json: SUCCEEDED\n")


async def test_job_wait_draws_a_progress_bar_on_a_terminal_only(
    flow_url: str, tmp_path: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    job_file = tmp_path / "job.yaml"
    job_file.write_text(stats_pipeline("cli_bar").to_yaml())
    code, out, _ = await cli(capsys, "job", "submit", "-f", str(job_file), "--flow", flow_url)
    assert (code, out) == (0, "cli_bar\n")

    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    code, out, _ = await cli(capsys, "job", "wait", "cli_bar", "--poll", "0.05", "--flow", flow_url)
    assert code == 0 and out.startswith("job cli_bar: SUCCEEDED\n")
    frames = terminal.getvalue().split("\r")[1:]  # each redraw returns to the line's start
    # A warning the in-process flow logs meanwhile (it happens under load) goes to the same stderr
    # after a newline of its own: the bar's text is each frame's first line.
    bars = [f.split("\n", 1)[0] for f in frames]
    assert all(b.startswith("  [") for b in bars)
    assert bars[-1].split() == ["[" + "#" * 30 + "]", "100.0%", "6/6", "tasks", "SUCCEEDED"]
    assert frames[-1] == bars[-1] + "\n"  # the line ends once, when the job is done

    quiet = Terminal()
    monkeypatch.setattr("sys.stderr", quiet)
    assert (await cli(capsys, "job", "wait", "cli_bar", "--quiet", "--flow", flow_url))[0] == 0
    assert quiet.getvalue() == ""


async def test_job_wait_exits_1_when_the_job_fails(
    cluster: Cluster, flow_url: str, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    cluster.parties[HOST].fail["column_stats_1"] = "not enough rows"
    job_file = tmp_path / "job.yaml"
    job_file.write_text(stats_pipeline("cli_fail").to_yaml())
    code, out, _ = await cli(
        capsys, "job", "submit", "-f", str(job_file), "--wait", "--poll", "0.05", "--flow", flow_url
    )
    assert code == 1
    assert "job cli_fail: FAILED" in out and "not enough rows" in out
