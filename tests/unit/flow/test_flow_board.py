"""The board's page and files, and the routes it reads: task logs and the model list.

The page and its vendored libraries are served by flow itself (nothing from a CDN): the page
references only flow's own paths, each of which answers. A task's log holds only this party's
lines, and no parameter reaches another party's.
"""

from __future__ import annotations

import re
from importlib import resources

import pytest
from flow_support import Cluster, eventually, two_party_job

from flow.api_board import static_files
from flow.sql_store import SqlJobStore

GUEST, HOST = 9999, 10000
URL = re.compile(r"\bhttps?://", re.IGNORECASE)


@pytest.fixture
async def two(cluster: Cluster) -> Cluster:
    await cluster.add_party(GUEST, tables=("demo.guest",))
    await cluster.add_party(HOST, tables=("demo.host",))
    await cluster.start_flow(GUEST, max_task_retries=1)
    await cluster.start_flow(HOST, max_task_retries=1)
    return cluster


async def run_job(c: Cluster, job_id: str = "job_1", fail_first: str = "") -> None:
    if fail_first:
        c.parties[GUEST].fail_first[fail_first] = "node went away"
    assert (await c.client(GUEST).post("/v1/jobs", content=two_party_job(job_id))).status_code == 201
    for party in (GUEST, HOST):
        await eventually(
            lambda p=party: (j := c.flows[p].store.get_job(job_id)) is not None and j.state == "SUCCEEDED",  # type: ignore[misc]
            what=f"{job_id} SUCCEEDED at {party}",
        )


def own_files() -> dict[str, str]:
    flow = resources.files("flow")
    out = {"board.html": flow.joinpath("board.html").read_text(encoding="utf-8")}
    for name in ("board.js", "board.css"):
        out[name] = flow.joinpath("static", name).read_text(encoding="utf-8")
    return out


def test_the_board_references_no_url_outside_flow() -> None:
    for name, text in own_files().items():
        assert not URL.findall(text), (
            f"{name} names an http(s) URL: the board must load nothing from outside flow"
        )
    html = own_files()["board.html"]
    refs = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert refs and all(r.startswith("/board/static/") or r == "data:," for r in refs), refs


async def test_every_file_the_page_names_is_served_with_its_type(two: Cluster) -> None:
    anonymous = two.client(GUEST, token=None)  # the page and its files carry no data
    page = await anonymous.get("/board")
    assert page.status_code == 200 and "silobridge board" in page.text
    for ref in re.findall(r'(?:src|href)="(/board/static/[^"]*)"', page.text):
        resp = await anonymous.get(ref)
        assert resp.status_code == 200, ref
        assert resp.headers["content-type"].split(";")[0] == (
            "text/css" if ref.endswith(".css") else "text/javascript"
        )
        assert len(resp.content) > 500
    assert {"vendor/cytoscape.min.js", "vendor/cytoscape-dagre.min.js", "vendor/uPlot.iife.min.js"} <= set(
        static_files()
    )
    assert any(n.startswith("vendor/LICENSE-") for n in static_files())


@pytest.mark.parametrize(
    "path",
    [
        "/board/static/../api.py",
        "/board/static/%2e%2e/api.py",
        "/board/static/vendor/../../api.py",
        "/board/static/nope.js",
    ],
)
async def test_nothing_but_the_board_files_is_served(two: Cluster, path: str) -> None:
    resp = await two.client(GUEST, token=None).get(path)
    assert resp.status_code == 404


async def test_a_task_log_tails_follows_and_holds_only_this_partys_lines(two: Cluster) -> None:
    await run_job(two)
    guest, host = two.client(GUEST), two.client(HOST)
    out = (await guest.get("/v1/jobs/job_1/tasks/stats_0/log")).json()
    lines = [x["line"] for x in out["lines"]]
    assert lines[0].startswith("attempt 1 started on node ")
    assert "step 0: loss=1" in lines and "step 2: loss=0.333333" in lines
    assert "progress 50%" in lines
    assert lines[-2:] == ["SUCCEEDED", "summary: rows=10"]
    assert [x["seq"] for x in out["lines"]] == list(range(1, len(lines) + 1)) and out["next"] == len(lines)
    assert out["party_id"] == GUEST and out["state"] == "SUCCEEDED"

    # tail and follow by offset
    tail = (await guest.get("/v1/jobs/job_1/tasks/stats_0/log?tail=2")).json()
    assert [x["line"] for x in tail["lines"]] == lines[-2:]
    after = (await guest.get("/v1/jobs/job_1/tasks/stats_0/log?tail=0&after=3&limit=2")).json()
    assert [x["seq"] for x in after["lines"]] == [4, 5] and after["next"] == 5
    done = (await guest.get(f"/v1/jobs/job_1/tasks/stats_0/log?tail=0&after={len(lines)}")).json()
    assert done["lines"] == [] and done["next"] == len(lines)

    # each party its own lines: the host's flow has its own log, the guest's holds no host line
    host_log = (await host.get("/v1/jobs/job_1/tasks/stats_0/log")).json()
    assert host_log["party_id"] == HOST and host_log["lines"]
    guest_store = two.flows[GUEST].store
    assert guest_store.task_log("job_1", HOST, "stats_0") == []  # though it keeps the host's task states
    assert guest_store.get_task("job_1", HOST, "stats_0") is not None


async def test_a_retried_task_logs_both_attempts(two: Cluster) -> None:
    await run_job(two, fail_first="stats_1")
    out = (await two.client(GUEST).get("/v1/jobs/job_1/tasks/stats_1/log")).json()
    lines = [(x["attempt"], x["line"]) for x in out["lines"]]
    assert (1, "attempt 1 failed: node went away; retrying as attempt 2") in lines
    assert any(a == 2 and t.startswith("attempt 2 started on node ") for a, t in lines)
    assert lines[-2][1] == "SUCCEEDED"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v1/jobs/job_1/tasks/nope/log", 404),
        ("/v1/jobs/nope/tasks/stats_0/log", 404),
        ("/v1/jobs/job_1/tasks/stats_0/log?tail=1001", 400),
        ("/v1/jobs/job_1/tasks/stats_0/log?after=-1", 400),
    ],
)
async def test_bad_log_requests(two: Cluster, path: str, status: int) -> None:
    await run_job(two)
    resp = await two.client(GUEST).get(path)
    assert resp.status_code == status, resp.text


@pytest.mark.parametrize("path", ["/v1/jobs/job_1/tasks/stats_0/log", "/v1/models"])
async def test_board_routes_need_a_token(two: Cluster, path: str) -> None:
    resp = await two.client(GUEST, token=None).get(path)
    assert resp.status_code == 401
    assert (await two.client(GUEST, token="wrong").get(path)).status_code == 401


async def test_the_model_list_names_each_model_with_its_task(two: Cluster) -> None:
    await run_job(two)
    models = (await two.client(GUEST).get("/v1/models")).json()["models"]
    assert {(m["job_id"], m["task"]) for m in models} == {("job_1", "stats_0"), ("job_1", "stats_1")}
    m = models[0]
    assert m["component"] == "column_stats" and m["role"] == "guest" and m["party_id"] == GUEST
    assert m["summary"] == {"rows": 10.0} and m["size"] > 0
    assert (await two.client(GUEST).get(m["download"])).status_code == 200


def test_log_lines_are_numbered_per_task() -> None:
    store = SqlJobStore("sqlite:///:memory:")
    try:
        store.add_task_log("j", 1, "a", 1, ["one", "two"])
        store.add_task_log("j", 1, "b", 1, ["other"])
        store.add_task_log("j", 1, "a", 2, ["three"])
        got = store.task_log("j", 1, "a")
        assert [(x.seq, x.attempt, x.line) for x in got] == [(1, 1, "one"), (2, 1, "two"), (3, 2, "three")]
        assert [x.line for x in store.task_log("j", 1, "a", tail=2)] == ["two", "three"]
        assert [x.line for x in store.task_log("j", 1, "a", after=1, limit=1)] == ["two"]
        assert store.task_log("j", 2, "a") == []
    finally:
        store.close()
