"""The cluster-manager as flow and node-managers see it: ClusterRequest in, ClusterReply out."""

from __future__ import annotations

from pathlib import Path

from cm_support import Events, FakeClock, call, settle

from cluster_manager.service import ClusterManagerService
from cluster_manager.settings import ClusterManagerSettings
from cluster_manager.sqlite_store import SqliteClusterStore
from silobridge import topics
from silobridge.bus.memory import MemoryBus
from silobridge.bus.rpc import RpcClient
from silobridge.cluster.v1 import cluster_pb2 as pb
from silobridge.observability.metrics import ServiceMetrics


def register(node_id: str, cpus: int = 4) -> pb.ClusterRequest:
    return pb.ClusterRequest(register_node=pb.RegisterNode(node=pb.NodeInfo(node_id=node_id, cpus=cpus)))


def heartbeat(node_id: str, running: int = 0) -> pb.ClusterRequest:
    return pb.ClusterRequest(heartbeat=pb.Heartbeat(node_id=node_id, running_tasks=running))


def allocate(
    session_id: str, *, cpus: int = 1, timeout_s: float = 0, prefer: tuple[str, ...] = ()
) -> pb.ClusterRequest:
    return pb.ClusterRequest(
        allocate_session=pb.AllocateSession(
            session_id=session_id, cpus=cpus, timeout_s=timeout_s, prefer_tables=prefer
        )
    )


def put_table(ns: str, name: str, node_id: str, rows: int = 10) -> pb.ClusterRequest:
    return pb.ClusterRequest(
        put_table_meta=pb.TableMeta(
            namespace=ns,
            name=name,
            columns=[pb.ColumnSchema(name="id", dtype="string"), pb.ColumnSchema(name="x0", dtype="float64")],
            id_column="id",
            partitions=[pb.PartitionMeta(index=0, node_id=node_id, rows=rows)],
        )
    )


async def nodes(cm: ClusterManagerService) -> dict[str, pb.NodeInfo]:
    reply = await call(cm, pb.ClusterRequest(list_nodes=pb.ListNodes()))
    return {n.node_id: n for n in reply.nodes.nodes}


async def test_answers_over_the_bus(cm: ClusterManagerService, bus: MemoryBus) -> None:
    client = RpcClient(bus, "test")
    reply = pb.ClusterReply()
    reply.ParseFromString(
        await client.request(topics.CLUSTER_RPC, register("n1").SerializeToString(), timeout=5)
    )
    await client.close()
    assert reply.node.node_id == "n1" and reply.node.state == pb.NODE_STATE_ALIVE


async def test_bad_requests_get_error_replies(cm: ClusterManagerService) -> None:
    garbage = pb.ClusterReply()
    garbage.ParseFromString(await cm.handle(b"\xff\xff\xff"))
    assert garbage.error.code == "integrity" and "ClusterRequest" in garbage.error.message
    empty = await call(cm, pb.ClusterRequest())
    assert empty.error.code == "invalid_input" and "no request" in empty.error.message
    unknown = await call(cm, heartbeat("ghost"))
    assert unknown.error.code == "not_found" and "ghost" in unknown.error.message
    missing = await call(cm, pb.ClusterRequest(get_table_meta=pb.GetTableMeta(namespace="ns", name="nope")))
    assert missing.error.code == "not_found" and "ns.nope" in missing.error.message
    bad_id = await call(cm, register("bad id!"))
    assert bad_id.error.code == "invalid_input" and "bad id!" in bad_id.error.message


async def test_silent_node_is_lost_once_and_revived_by_heartbeat(
    cm: ClusterManagerService, clock: FakeClock, events: Events
) -> None:
    await call(cm, register("a"))
    await call(cm, register("b"))
    clock.advance(5.0)  # 2.5 intervals: still alive
    await call(cm, heartbeat("b"))
    assert await cm.check_liveness() == []
    clock.advance(1.5)  # a: 6.5 s > 3 x 2 s; b: 1.5 s
    lost = await cm.check_liveness()
    await settle()
    assert [n.node_id for n in lost] == ["a"]
    assert [e.node_lost.node_id for e in events.of("node_lost")] == ["a"]
    assert (await nodes(cm))["a"].state == pb.NODE_STATE_LOST
    assert await cm.check_liveness() == []  # announced once
    revived = await call(cm, heartbeat("a", running=2))
    assert revived.node.state == pb.NODE_STATE_ALIVE
    listed = (await nodes(cm))["a"]
    assert listed.state == pb.NODE_STATE_ALIVE and listed.running_tasks == 2


async def test_allocation_is_idempotent_and_avoids_lost_nodes(
    cm: ClusterManagerService, clock: FakeClock
) -> None:
    none_yet = await call(cm, allocate("s0"))
    assert none_yet.error.retryable and "no alive node-manager" in none_yet.error.message
    await call(cm, register("a"))
    await call(cm, register("b"))
    first = await call(cm, allocate("job1.t.1", cpus=4))
    again = await call(cm, allocate("job1.t.1", cpus=4))
    assert list(first.session.node_ids) == list(again.session.node_ids)
    assert first.session.deadline_unix == again.session.deadline_unix
    second = await call(cm, allocate("job2.t.1", cpus=4))
    assert set(first.session.node_ids) | set(second.session.node_ids) == {"a", "b"}  # spread by load
    clock.advance(7)
    await call(cm, heartbeat("b"))
    await cm.check_liveness()
    third = await call(cm, allocate("job3.t.1"))
    assert list(third.session.node_ids) == ["b"]


async def test_allocation_prefers_the_node_holding_the_table(cm: ClusterManagerService) -> None:
    await call(cm, register("a"))
    await call(cm, register("b"))
    await call(cm, heartbeat("b", running=3))  # b is busier ...
    await call(cm, put_table("ns", "data", "b"))  # ... but holds the data
    got = await call(cm, allocate("s1", prefer=("ns.data",)))
    assert list(got.session.node_ids) == ["b"]
    plain = await call(cm, allocate("s2"))
    assert list(plain.session.node_ids) == ["a"]
    bad = await call(cm, allocate("s3", prefer=("nodot",)))
    assert bad.error.code == "invalid_input" and "nodot" in bad.error.message


async def test_expired_session_is_announced_and_released(
    cm: ClusterManagerService, clock: FakeClock, events: Events
) -> None:
    await call(cm, register("a"))
    short = await call(cm, allocate("short", timeout_s=10))
    await call(cm, allocate("long", timeout_s=100))
    assert short.session.deadline_unix == clock.now + 10
    clock.advance(11)
    await call(cm, heartbeat("a"))
    expired = await cm.expire_sessions()
    await settle()
    assert [s.session_id for s in expired] == ["short"]
    assert [e.session_expired.session_id for e in events.of("session_expired")] == ["short"]
    assert [s.session_id for s in cm.store.list_sessions()] == ["long"]
    # the id can be allocated afresh, with a new deadline
    fresh = await call(cm, allocate("short", timeout_s=10))
    assert fresh.session.deadline_unix == clock.now + 10


async def test_release_is_idempotent(cm: ClusterManagerService) -> None:
    await call(cm, register("a"))
    await call(cm, allocate("s"))
    for _ in range(2):
        reply = await call(cm, pb.ClusterRequest(release_session=pb.ReleaseSession(session_id="s")))
        assert reply.ok
    assert cm.store.list_sessions() == []


async def test_table_metadata(cm: ClusterManagerService, clock: FakeClock) -> None:
    put = await call(cm, put_table("ns", "t1", "a", rows=42))
    assert put.table.rows == 42 and put.table.created_unix == clock.now
    await call(cm, put_table("other", "t2", "a"))
    got = await call(cm, pb.ClusterRequest(get_table_meta=pb.GetTableMeta(namespace="ns", name="t1")))
    assert [c.name for c in got.table.columns] == ["id", "x0"] and got.table.partitions[0].node_id == "a"
    listed = await call(cm, pb.ClusterRequest(list_tables=pb.ListTables(namespace="ns")))
    assert [t.name for t in listed.tables.tables] == ["t1"]
    # DeleteTableMeta removes a table; a second delete names the table it cannot find
    delete = pb.ClusterRequest(delete_table_meta=pb.DeleteTableMeta(namespace="ns", name="t1"))
    assert (await call(cm, delete)).ok
    everything = await call(cm, pb.ClusterRequest(list_tables=pb.ListTables()))
    assert [t.name for t in everything.tables.tables] == ["t2"]
    again = await call(cm, delete)
    assert again.error.code == "not_found" and "ns.t1" in again.error.message
    assert not again.error.retryable
    bad = pb.ClusterRequest(delete_table_meta=pb.DeleteTableMeta(namespace="../x", name="t2"))
    assert (await call(cm, bad)).error.code == "invalid_input"
    # metadata without partitions no longer stands for a delete: it is refused, t2 stays
    empty = await call(cm, pb.ClusterRequest(put_table_meta=pb.TableMeta(namespace="other", name="t2")))
    assert empty.error.code == "invalid_input" and "DeleteTableMeta" in empty.error.message
    assert [
        t.name for t in (await call(cm, pb.ClusterRequest(list_tables=pb.ListTables()))).tables.tables
    ] == ["t2"]
    dup = pb.TableMeta(
        namespace="ns",
        name="d",
        partitions=[pb.PartitionMeta(index=0, node_id="a"), pb.PartitionMeta(index=0, node_id="a")],
    )
    assert "twice" in (await call(cm, pb.ClusterRequest(put_table_meta=dup))).error.message


async def test_restart_keeps_tables_nodes_and_sessions(
    tmp_path: Path, bus: MemoryBus, clock: FakeClock
) -> None:
    settings = ClusterManagerSettings(data_dir=tmp_path, check_interval_s=3600)

    def build() -> ClusterManagerService:
        return ClusterManagerService(settings, bus, ServiceMetrics("cluster-manager", 9999), clock=clock)

    first = build()
    assert isinstance(first.store, SqliteClusterStore)
    await first.start()
    await call(first, register("a"))
    await call(first, put_table("ns", "kept", "a"))
    allocated = await call(first, allocate("s", timeout_s=100))
    await first.stop()
    clock.advance(60)  # the manager was down for a minute: nodes could not heartbeat
    second = build()
    await second.start()
    try:
        listed = await call(second, pb.ClusterRequest(list_tables=pb.ListTables()))
        assert [t.name for t in listed.tables.tables] == ["kept"]
        assert await second.check_liveness() == []  # silence counts from the restart
        assert (await nodes(second))["a"].state == pb.NODE_STATE_ALIVE
        again = await call(second, allocate("s"))  # idempotent across the restart
        assert again.session.deadline_unix == allocated.session.deadline_unix
    finally:
        await second.stop()


async def test_metrics_count_requests_and_states(cm: ClusterManagerService, clock: FakeClock) -> None:
    await call(cm, register("a"))
    await call(cm, heartbeat("ghost"))
    clock.advance(10)
    await cm.check_liveness()
    reg = cm.metrics.registry
    assert (
        reg.get_sample_value("silobridge_cluster_requests_total", {"kind": "register_node", "outcome": "ok"})
        == 1
    )
    assert (
        reg.get_sample_value(
            "silobridge_cluster_requests_total", {"kind": "heartbeat", "outcome": "not_found"}
        )
        == 1
    )
    assert reg.get_sample_value("silobridge_cluster_nodes", {"state": "lost"}) == 1
    assert reg.get_sample_value("silobridge_cluster_nodes_lost_total") == 1
