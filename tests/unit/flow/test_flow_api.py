"""REST API of one party's flow, driven through httpx's ASGI transport with fake services."""

from __future__ import annotations

import sqlite3

import httpx
import pytest
from flow_support import NODE, Cluster, eventually, two_party_job

from silobridge.federation import codec
from silobridge.federation.v1 import values_pb2
from silobridge.observability.http import make_app

SOLO_JOB = """
job_id: {job_id}
parties: {{guest: [9999]}}
components:
  - name: reader_0
    component: reader
    role_params: {{guest: {{table: demo.guest}}}}
  - name: stats_0
    component: column_stats
    inputs: {{data: reader_0.data}}
"""


def rows_in_db(cluster: Cluster, table: str) -> int:
    path = cluster.tmp_path / "p9999" / "flow.sqlite"
    with sqlite3.connect(path) as db:
        return int(db.execute(f"SELECT COUNT(*) FROM flow_{table}").fetchone()[0])


@pytest.fixture
async def solo(cluster: Cluster) -> Cluster:
    await cluster.add_party(9999, tables=("demo.guest",))
    await cluster.add_party(10000, tables=("demo.host",))
    await cluster.start_flow(9999)
    return cluster


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ("components: [", 400, "job YAML is not valid YAML"),
        (
            "parties: {guest: [9999]}\ncomponents: [{name: a, component: nope}]",
            400,
            "components[0].component: unknown component 'nope'",
        ),
        (
            SOLO_JOB.format(job_id="x").replace("demo.guest", "demo.missing"),
            400,
            "table demo.missing not found at party 9999",
        ),
        (
            SOLO_JOB.format(job_id="x").replace("[9999]}", "[9999], host: [10002]}"),
            400,
            "parties.host[0]: unknown party 10002",
        ),
        (
            two_party_job("x").replace("{role: guest, party_id: 9999}", "{role: host, party_id: 10000}"),
            400,
            "initiator: party 10000 is not this party (9999)",
        ),
        ("#" * (300 * 1024), 413, "exceeds the limit"),
    ],
)
async def test_invalid_submissions_are_rejected_and_store_nothing(
    solo: Cluster, body: str, status: int, message: str
) -> None:
    client = solo.client(9999)
    r = await client.post("/v1/jobs", content=body)
    assert r.status_code == status, r.text
    assert message in r.json()["error"]["message"]
    assert r.json()["error"]["code"] in ("invalid_input", "payload_too_large")
    assert (
        rows_in_db(solo, "jobs") == 0 and rows_in_db(solo, "tasks") == 0 and rows_in_db(solo, "parties") == 0
    )
    assert solo.router.sent == []  # nothing proposed to anybody


async def test_single_party_job_round_trip(solo: Cluster) -> None:
    client = solo.client(9999)
    r = await client.post("/v1/jobs", content=SOLO_JOB.format(job_id="solo_1"))
    assert r.status_code == 201, r.text
    assert r.json()["job_id"] == "solo_1"

    async def done() -> bool:
        return (await client.get("/v1/jobs/solo_1")).json()["state"] == "SUCCEEDED"

    await eventually(done, what="job SUCCEEDED")
    job = (await client.get("/v1/jobs/solo_1")).json()
    assert {(t["name"], t["state"]) for t in job["tasks"]} == {
        ("reader_0", "SUCCEEDED"),
        ("stats_0", "SUCCEEDED"),
    }
    stats = next(t for t in job["tasks"] if t["name"] == "stats_0")
    assert stats["summary"] == {"rows": 10.0} and stats["metrics"] == {"loss": pytest.approx(1 / 3)}
    assert job["dag"][1]["needs"] == ["reader_0"]

    # what the node was asked to do: the reader's table param, then the reader's output as input
    party = solo.parties[9999]
    runs = {r.task_name: r for r in party.runs()}
    assert runs["reader_0"].input_tables["table"].name == "guest"
    assert runs["reader_0"].compute_session == "solo_1.reader_0.1"
    assert runs["stats_0"].input_tables["data"].name == "reader_0_data"
    assert runs["stats_0"].input_tables["data"].namespace == "job_solo_1"
    await eventually(
        lambda: sorted(party.released) == ["solo_1.reader_0.1", "solo_1.stats_0.1"], what="sessions released"
    )

    metrics = (await client.get("/v1/jobs/solo_1/tasks/stats_0/metrics")).json()
    assert [p["value"] for p in metrics["metrics"]["loss"]] == pytest.approx([1.0, 0.5, 1 / 3])

    models = (await client.get("/v1/jobs/solo_1/models")).json()["models"]
    assert [m["task"] for m in models] == ["stats_0"]
    raw = await client.get(models[0]["download"])
    assert raw.headers["content-type"] == "application/x-protobuf"
    value = values_pb2.Value()
    value.ParseFromString(raw.content)
    assert codec.decode(value)["weights"] == 1.5

    assert (await client.get("/v1/jobs/solo_1/tasks/nope/metrics")).status_code == 404
    assert (await client.get("/v1/jobs/nope")).json()["error"]["code"] == "not_found"


async def test_list_is_newest_first_and_downstream_gets_upstream_model(solo: Cluster) -> None:
    client = solo.client(9999)
    job = (
        SOLO_JOB
        + "  - name: stats_1\n    component: column_stats\n    inputs: {{data: reader_0.data, prior: stats_0.model}}\n"
    )
    for i in range(2):
        assert (await client.post("/v1/jobs", content=job.format(job_id=f"j{i}"))).status_code == 201
    dup = await client.post("/v1/jobs", content=job.format(job_id="j0"))
    assert dup.status_code == 409 and "already exists" in dup.json()["error"]["message"]

    async def both_done() -> bool:
        jobs = (await client.get("/v1/jobs")).json()["jobs"]
        return all(j["state"] == "SUCCEEDED" for j in jobs)

    await eventually(both_done)
    assert [j["job_id"] for j in (await client.get("/v1/jobs")).json()["jobs"]] == ["j1", "j0"]
    run = next(r for r in solo.parties[9999].runs() if r.job_id == "j0" and r.task_name == "stats_1")
    assert codec.decode(run.input_models["prior"]) == {"weights": 1.5, "task": "stats_0"}


async def test_stop_cancels_the_running_task(solo: Cluster) -> None:
    solo.parties[9999].hold.add("stats_0")
    client = solo.client(9999)
    await client.post("/v1/jobs", content=SOLO_JOB.format(job_id="s1"))
    party = solo.parties[9999]
    await eventually(lambda: any(r.task_name == "stats_0" for r in party.runs()), what="stats_0 started")

    async def running() -> bool:
        tasks = (await client.get("/v1/jobs/s1")).json()["tasks"]
        return any(t["name"] == "stats_0" and t["state"] == "RUNNING" for t in tasks)

    await eventually(running)
    r = await client.post("/v1/jobs/s1/stop")
    assert r.status_code == 200 and r.json()["state"] == "STOPPED"
    assert [(c.task_name, c.attempt) for c in party.cancels()] == [("stats_0", 1)]
    job = (await client.get("/v1/jobs/s1")).json()
    assert {t["name"]: t["state"] for t in job["tasks"]} == {"reader_0": "SUCCEEDED", "stats_0": "CANCELLED"}
    again = await client.post("/v1/jobs/s1/stop")
    assert again.status_code == 409 and "already ended: STOPPED" in again.json()["error"]["message"]


async def test_upload_goes_to_a_node_and_bad_csv_returns_the_nodes_message(solo: Cluster) -> None:
    client = solo.client(9999)
    url = "/v1/data/upload?namespace=demo&name=up&id_column=id&label_column=y&partitions=2"
    ok = await client.post(url, content=b"id,x,y\na,1,0\nb,2,1\n")
    assert ok.status_code == 201, ok.text
    assert ok.json()["table"]["rows"] == "2" and ok.json()["node_id"] == NODE
    stored = [c.store_table for c in solo.parties[9999].commands if c.WhichOneof("command") == "store_table"]
    assert stored[0].partitions == 2 and stored[0].label_column == "y"

    bad = await client.post(url, content=b"id,x,y\na,notanumber,0\n")
    assert bad.status_code == 400
    assert bad.json()["error"]["message"] == "column 'x' is not numeric: 'notanumber' on CSV line 2"

    missing = await client.post("/v1/data/upload?namespace=demo&name=up", content=b"id\n1\n")
    assert missing.status_code == 400 and "id_column" in missing.json()["error"]["message"]

    names = [(t["namespace"], t["name"]) for t in (await client.get("/v1/tables")).json()["tables"]]
    assert ("demo", "up") in names and ("demo", "guest") in names


async def test_api_is_mounted_beside_health_and_metrics(solo: Cluster) -> None:
    flow = solo.flows[9999]
    app = make_app("flow", flow.metrics.registry, flow.ready, flow.routes())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://flow") as client:
        assert (await client.get("/healthz")).json()["status"] == "ok"
        assert (await client.get("/readyz")).status_code == 200
        job = SOLO_JOB.format(job_id="m1")
        assert (await client.post("/v1/jobs", content=job)).status_code == 401
        auth = {"Authorization": f"Bearer {solo.admin_tokens[9999]}"}
        assert (await client.post("/v1/jobs", content=job, headers=auth)).status_code == 201
        assert "/v1/jobs/{job_id}" in (await client.get("/openapi.json")).json()["paths"]
        assert "swagger" in (await client.get("/docs")).text.lower()
        assert "silobridge board" in (await client.get("/board")).text
        await eventually(lambda: flow.store.get_job("m1").state == "SUCCEEDED")  # type: ignore[union-attr]
        text = (await client.get("/metrics")).text
    assert 'silobridge_flow_jobs_total{state="SUCCEEDED"} 1.0' in text
    assert 'silobridge_flow_tasks_total{state="SUCCEEDED"} 2.0' in text
    assert "silobridge_flow_running_jobs 0.0" in text
    assert (
        'silobridge_flow_api_request_seconds_count{method="POST",route="/v1/jobs",status="201"} 1.0' in text
    )
    assert (
        'silobridge_flow_api_request_seconds_count{method="POST",route="/v1/jobs",status="401"} 1.0' in text
    )
