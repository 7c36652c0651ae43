"""flow follows the cluster-manager's ``cluster.events``: a lost node or an expired compute session
ends the task run it carried, so the job does not hang until its timeout."""

from __future__ import annotations

import asyncio

import pytest
from flow_support import NODE, Cluster, eventually, two_party_job

from silobridge.cluster.v1 import cluster_pb2

GUEST, HOST = 9999, 10000


@pytest.fixture
async def two(cluster: Cluster) -> Cluster:
    await cluster.add_party(GUEST, tables=("demo.guest",))
    await cluster.add_party(HOST, tables=("demo.host",))
    return cluster


def node_lost(node_id: str = NODE) -> cluster_pb2.ClusterEvent:
    info = cluster_pb2.NodeInfo(node_id=node_id, state=cluster_pb2.NODE_STATE_LOST)
    return cluster_pb2.ClusterEvent(node_lost=info)


def session_expired(session_id: str) -> cluster_pb2.ClusterEvent:
    return cluster_pb2.ClusterEvent(session_expired=cluster_pb2.ComputeSession(session_id=session_id))


def job_message(c: Cluster, party: int) -> str | None:
    job = c.flows[party].store.get_job("job_1")
    return None if job is None or job.state != "FAILED" else job.message


async def host_task_running(c: Cluster, task: str, attempt: int) -> None:
    def check() -> bool:
        t = c.flows[HOST].store.get_task("job_1", HOST, task)
        return t is not None and (t.state, t.attempt, t.node_id) == ("RUNNING", attempt, NODE)

    await eventually(check, what=f"{task} attempt {attempt} running at the host")


async def start_job(c: Cluster, **overrides: object) -> None:
    await c.start_flow(GUEST, **overrides)
    await c.start_flow(HOST, **overrides)
    assert (await c.client(GUEST).post("/v1/jobs", content=two_party_job())).status_code == 201


async def test_a_lost_node_fails_the_job_at_both_parties(two: Cluster) -> None:
    two.parties[HOST].hold.add("reader_0")
    await start_job(two)
    await host_task_running(two, "reader_0", 1)

    await two.parties[HOST].cluster_event(node_lost())

    message = "task reader_0 failed at party 10000: node n1 was lost while running task reader_0"
    await eventually(lambda: job_message(two, GUEST) == message, what="job FAILED at the guest")
    await eventually(lambda: job_message(two, HOST) == message, what="job FAILED at the host")
    task = two.flows[HOST].store.get_task("job_1", HOST, "reader_0")
    assert task is not None and (task.state, task.attempt) == ("FAILED", 1)
    # the guest's view of the host's task, as GET /v1/jobs/{id} shows it
    job = (await two.client(GUEST).get("/v1/jobs/job_1")).json()
    host_task = next(t for t in job["tasks"] if (t["party_id"], t["name"]) == (HOST, "reader_0"))
    assert host_task["state"] == "FAILED"
    # the session is given back and the node (should it only be cut off) is told to stop the run
    await eventually(lambda: "job_1.reader_0.1" in two.parties[HOST].released, what="session released")
    assert [c.task_name for c in two.parties[HOST].cancels()] == ["reader_0"]


async def test_a_lost_node_is_a_retryable_failure(two: Cluster) -> None:
    two.parties[HOST].hold_first.add("reader_0")
    await start_job(two, max_task_retries=1)
    await host_task_running(two, "reader_0", 1)

    await two.parties[HOST].cluster_event(node_lost())

    await eventually(lambda: two.flows[GUEST].store.get_job("job_1").state == "SUCCEEDED")  # type: ignore[union-attr]
    runs = [(r.attempt, r.compute_session) for r in two.parties[HOST].runs() if r.task_name == "reader_0"]
    assert runs == [(1, "job_1.reader_0.1"), (2, "job_1.reader_0.2")]
    task = two.flows[HOST].store.get_task("job_1", HOST, "reader_0")
    assert task is not None and (task.state, task.attempt) == ("SUCCEEDED", 2)


async def test_duplicate_and_unrelated_events_change_nothing(two: Cluster) -> None:
    two.parties[HOST].hold.add("reader_0")
    await start_job(two, max_task_retries=1)
    await host_task_running(two, "reader_0", 1)
    await two.parties[HOST].cluster_event(node_lost(), message_id="lost-n1")
    await host_task_running(two, "reader_0", 2)  # the retry runs on the node, which came back

    host = two.parties[HOST]
    await host.cluster_event(node_lost(), message_id="lost-n1")  # the same event, redelivered
    await host.cluster_event(node_lost("n2"))  # a node that runs nothing here
    await host.cluster_event(session_expired("job_1.reader_0.1"))  # the attempt already given up
    await host.cluster_event(session_expired("other_job.reader_0.1"))
    await host.cluster_event(session_expired("not-a-flow-session"))
    await host.cluster_event(cluster_pb2.ClusterEvent())
    await asyncio.sleep(0.3)

    task = two.flows[HOST].store.get_task("job_1", HOST, "reader_0")
    assert task is not None and (task.state, task.attempt) == ("RUNNING", 2)
    assert two.flows[GUEST].store.get_job("job_1").state == "RUNNING"  # type: ignore[union-attr]
    assert [r.attempt for r in host.runs() if r.task_name == "reader_0"] == [1, 2]


async def test_an_expired_session_fails_the_job_without_retry(two: Cluster) -> None:
    two.parties[HOST].hold.add("reader_0")
    await start_job(two, max_task_retries=1)
    await host_task_running(two, "reader_0", 1)

    await two.parties[HOST].cluster_event(session_expired("job_1.reader_0.1"))

    message = (
        "task reader_0 failed at party 10000: "
        "compute session job_1.reader_0.1 expired: task reader_0 ran past its deadline"
    )
    await eventually(lambda: job_message(two, GUEST) == message, what="job FAILED at the guest")
    await eventually(lambda: job_message(two, HOST) == message, what="job FAILED at the host")
    assert [r.attempt for r in two.parties[HOST].runs() if r.task_name == "reader_0"] == [1]
