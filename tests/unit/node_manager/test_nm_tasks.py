"""RunTask / CancelTask as flow sees them: TaskEvents on flow.events, outputs stored."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import numpy as np
from google.protobuf.struct_pb2 import Struct
from nm_support import NODE, STARTS, WAITING_RECV, FakeCluster, TaskEvents, command, run_cmd, store_cmd

from node_manager.service import NodeManagerService
from node_manager.settings import NodeManagerSettings
from silobridge import topics
from silobridge.bus.memory import MemoryBus
from silobridge.bus.rpc import RpcClient, serve
from silobridge.cluster.v1 import cluster_pb2 as cpb
from silobridge.federation import codec
from silobridge.node.v1 import node_pb2 as pb
from silobridge.observability.metrics import ServiceMetrics


def params(**values: object) -> Struct:
    s = Struct()
    s.update(values)
    return s


def data_input() -> dict[str, pb.TableRef]:
    return {"data": pb.TableRef(namespace="ns", name="t")}


async def test_task_succeeds_with_outputs(
    node: NodeManagerService, cluster: FakeCluster, events: TaskEvents, rpc: RpcClient
) -> None:
    await command(rpc, store_cmd())
    accepted = await command(
        rpc, run_cmd("scale", "nmtest_scale", params=params(factor=2), input_tables=data_input())
    )
    assert accepted.ok
    final = await events.final("scale")
    states = events.states("scale")
    assert states[0] == "RUNNING" and states[-1] == "SUCCEEDED" and states.count("SUCCEEDED") == 1
    assert final.message == "" and final.progress == 1.0 and final.node_id == NODE
    assert (final.job_id, final.attempt, final.party_id, final.role) == ("job1", 1, 9999, "guest")
    assert dict(final.summary) == {"rows": 5.0}
    model = codec.decode(final.model)
    assert model["factor"] == 2.0
    np.testing.assert_allclose(model["means"], [10.0, 12.0])
    ref = final.output_tables["scaled"]
    assert (ref.namespace, ref.name) == ("out", "scale_scaled")
    stored = node.storage.load("out", "scale_scaled")
    np.testing.assert_array_equal(stored.features[:, 0], [2, 6, 10, 14, 18])
    assert ("out", "scale_scaled") in cluster.tables
    # every metric the component logged reached flow, in RUNNING events
    points = [(m.name, m.step, m.value) for e in events.of("scale") for m in e.metrics]
    assert points == [("step_loss", i, 1.0 / (i + 1)) for i in range(4)]
    reg = node.metrics.registry
    assert reg.get_sample_value("silobridge_node_tasks_total", {"state": "succeeded"}) == 1
    assert reg.get_sample_value("silobridge_node_task_seconds_count", {"state": "succeeded"}) == 1
    assert reg.get_sample_value("silobridge_node_running_tasks") == 0


async def test_role_without_function_succeeds_at_once(
    node: NodeManagerService, events: TaskEvents, rpc: RpcClient
) -> None:
    await command(rpc, run_cmd("idle", "nmtest_fail", role="host"))
    final = await events.final("idle")
    assert final.state == pb.TASK_STATE_SUCCEEDED
    assert final.message == "nothing to do for role host"
    assert not final.summary and not final.output_tables and not final.HasField("model")


async def test_failures_carry_a_public_message(
    node: NodeManagerService, events: TaskEvents, rpc: RpcClient
) -> None:
    await command(rpc, run_cmd("fails", "nmtest_fail"))
    await command(rpc, run_cmd("crashes", "nmtest_crash"))
    await command(rpc, run_cmd("unknown", "no_such_component"))
    await command(rpc, run_cmd("badparam", "nmtest_scale", params=params(factr=2), input_tables=data_input()))
    await command(rpc, run_cmd("noinput", "nmtest_scale", input_tables=data_input()))
    fails = await events.final("fails")
    assert fails.state == pb.TASK_STATE_FAILED and fails.message == "column x9 is constant at party 9999"
    crashes = await events.final("crashes")
    assert crashes.state == pb.TASK_STATE_FAILED
    assert (
        "ValueError" in crashes.message
        and "secret" not in crashes.message
        and "row 17" not in crashes.message
    )
    assert "unknown component 'no_such_component'" in (await events.final("unknown")).message
    assert "factr" in (await events.final("badparam")).message
    noinput = (await events.final("noinput")).message
    assert "ns.t" in noinput and NODE in noinput
    assert node.metrics.registry.get_sample_value("silobridge_node_tasks_total", {"state": "failed"}) == 5
    # permanent failures: another attempt would fail the same way, so flow must not retry them
    for task in ("fails", "crashes", "unknown", "badparam", "noinput"):
        assert not (await events.final(task)).retryable, task


async def test_transient_failures_are_retryable(
    node: NodeManagerService, cluster: FakeCluster, events: TaskEvents, rpc: RpcClient
) -> None:
    await command(rpc, run_cmd("silent_peer", "nmtest_peer_silent"))
    silent = await events.final("silent_peer")
    assert silent.state == pb.TASK_STATE_FAILED and "never_sent" in silent.message
    assert silent.retryable
    # the output could not be registered because the cluster-manager was briefly unavailable
    await command(rpc, store_cmd())
    cluster.put_unavailable = True
    await command(rpc, run_cmd("unregistered", "nmtest_scale", input_tables=data_input()))
    unregistered = await events.final("unregistered")
    assert unregistered.state == pb.TASK_STATE_FAILED and unregistered.retryable
    assert all(not e.retryable for e in events.items if e.state != pb.TASK_STATE_FAILED)


async def test_shutdown_fails_running_tasks_as_retryable(
    bus: MemoryBus,
    cluster: FakeCluster,
    events: TaskEvents,
    rpc: RpcClient,
    make_settings: Callable[..., NodeManagerSettings],
) -> None:
    svc = NodeManagerService(make_settings(), bus, ServiceMetrics("node-manager", 9999))
    await svc.start()
    await command(rpc, run_cmd("interrupted", "nmtest_wait"))
    while "RUNNING" not in events.states("interrupted"):
        await asyncio.sleep(0.01)
    await svc.stop()
    final = await events.final("interrupted", timeout=3)
    assert final.state == pb.TASK_STATE_FAILED and final.retryable
    assert f"node-manager {NODE} stopped" in final.message


async def test_timeout_fails_promptly_and_interrupts_recv(
    node: NodeManagerService, events: TaskEvents, rpc: RpcClient
) -> None:
    WAITING_RECV["interrupted"].clear()
    start = time.monotonic()
    await command(rpc, run_cmd("slow", "nmtest_wait", timeout_s=0.3))
    final = await events.final("slow")
    assert final.state == pb.TASK_STATE_FAILED and "exceeded its timeout of 0.3s" in final.message
    assert not final.retryable  # the timeout is the job's deadline: another attempt cannot meet it
    assert time.monotonic() - start < 2.0
    assert await asyncio.to_thread(WAITING_RECV["interrupted"].wait, 2.0)  # the component's recv was ended
    assert node.running_tasks() == 0


async def test_cancel_task(node: NodeManagerService, events: TaskEvents, rpc: RpcClient) -> None:
    await command(rpc, run_cmd("victim", "nmtest_wait"))
    while "RUNNING" not in events.states("victim"):
        await asyncio.sleep(0.01)
    cancel = pb.CancelTask(job_id="job1", task_name="victim", attempt=1, reason="user stopped the job")
    assert (await command(rpc, pb.NodeCommand(cancel_task=cancel))).ok
    final = await events.final("victim", timeout=3)
    assert final.state == pb.TASK_STATE_CANCELLED and "user stopped the job" in final.message
    assert not final.retryable


async def test_cancel_before_run_never_starts(
    node: NodeManagerService, events: TaskEvents, rpc: RpcClient
) -> None:
    STARTS.clear()
    cancel = pb.CancelTask(job_id="job1", task_name="early", attempt=1, reason="job stopped")
    await command(rpc, pb.NodeCommand(cancel_task=cancel))
    await command(rpc, run_cmd("early", "nmtest_count"))
    final = await events.final("early")
    assert final.state == pb.TASK_STATE_CANCELLED and events.states("early") == ["CANCELLED"]
    assert STARTS == []


async def test_expired_session_fails_its_tasks(
    node: NodeManagerService, events: TaskEvents, bus: MemoryBus, rpc: RpcClient
) -> None:
    await command(rpc, run_cmd("in_session", "nmtest_wait", compute_session="job1.in_session.1"))
    await command(rpc, run_cmd("other", "nmtest_wait", compute_session="other-session", timeout_s=5))
    while "RUNNING" not in events.states("in_session"):
        await asyncio.sleep(0.01)
    expired = cpb.ClusterEvent(session_expired=cpb.ComputeSession(session_id="job1.in_session.1"))
    await bus.publish(topics.CLUSTER_EVENTS, expired.SerializeToString())
    final = await events.final("in_session", timeout=3)
    assert final.state == pb.TASK_STATE_FAILED and "job1.in_session.1 expired" in final.message
    assert not final.retryable
    await asyncio.sleep(0.2)
    assert events.states("other")[-1] == "RUNNING"  # other sessions are left alone
    await command(rpc, pb.NodeCommand(cancel_task=pb.CancelTask(job_id="job1", task_name="other", attempt=1)))
    await events.final("other")


async def test_redelivered_run_task_runs_once(
    node: NodeManagerService, events: TaskEvents, rpc: RpcClient
) -> None:
    STARTS.clear()
    for _ in range(3):
        await command(rpc, run_cmd("once", "nmtest_count"))
    final = await events.final("once")
    assert final.state == pb.TASK_STATE_SUCCEEDED and STARTS == ["once"]
    await command(rpc, run_cmd("once", "nmtest_count"))  # after the end: the outcome is repeated
    await asyncio.sleep(0.1)
    assert events.states("once").count("RUNNING") == 1 and events.states("once").count("SUCCEEDED") == 2
    await command(rpc, run_cmd("once", "nmtest_count", attempt=2))  # a new attempt does run
    while len(STARTS) < 2:
        await asyncio.sleep(0.01)


async def test_tasks_beyond_the_limit_wait(
    bus: MemoryBus,
    cluster: FakeCluster,
    events: TaskEvents,
    rpc: RpcClient,
    make_settings: Callable[..., NodeManagerSettings],
) -> None:
    STARTS.clear()
    svc = NodeManagerService(make_settings(max_concurrent_tasks=1), bus, ServiceMetrics("node-manager", 9999))
    await svc.start()
    try:
        await command(rpc, run_cmd("first", "nmtest_count"))
        await command(rpc, run_cmd("second", "nmtest_count"))
        await events.final("second")
        assert events.states("second")[0] == "WAITING"
        first_done = events.of("first")[-1].time_unix
        second_running = next(e for e in events.of("second") if e.state == pb.TASK_STATE_RUNNING).time_unix
        assert second_running >= first_done
    finally:
        await svc.stop()


async def test_progress_is_throttled(node: NodeManagerService, events: TaskEvents) -> None:
    run = node.submit(run_cmd("chatty", "nmtest_count").run_task)
    for i in range(100):
        run.reporter.progress_sink(i / 100)
        run.reporter.metric_sink("m", float(i), i)
    await asyncio.sleep(0.7)
    await events.final("chatty")
    running = [e for e in events.of("chatty") if e.state == pb.TASK_STATE_RUNNING]
    assert len(running) <= 4  # start + at most two updates a second over ~0.7 s
    assert sum(len(e.metrics) for e in running) == 100  # coalesced, none lost


async def test_registers_heartbeats_and_reregisters(
    bus: MemoryBus, make_settings: Callable[..., NodeManagerSettings]
) -> None:
    svc = NodeManagerService(make_settings(rpc_timeout_s=0.1), bus, ServiceMetrics("node-manager", 9999))
    await svc.start()  # no cluster-manager yet: registration keeps trying
    try:
        await asyncio.sleep(0.3)
        assert not svc.ready()
        cm = FakeCluster()
        await serve(bus, topics.CLUSTER_RPC, cm.handle, group="cluster-manager")
        await asyncio.wait_for(svc.registered.wait(), 5)
        assert svc.ready()
        await asyncio.sleep(0.3)
        assert cm.kinds()[0] == "register_node" and cm.kinds().count("heartbeat") >= 2
        assert cm.requests[0].register_node.node.node_id == NODE
        cm.forget_nodes = True
        await asyncio.sleep(0.3)
        assert cm.kinds().count("register_node") == 2
    finally:
        await svc.stop()
