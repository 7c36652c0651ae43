"""A cluster-manager and two node-managers on one bus, driven only through the bus contracts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
from compute_plane_support import Party, StandInRouter

from silobridge.cluster.v1 import cluster_pb2 as cpb
from silobridge.federation import codec
from silobridge.node.v1 import node_pb2 as pb

GUEST_CSV = b"id,x0,x1,y\n" + b"".join(f"u{i},{i},{2 * i},{i % 2}\n".encode() for i in range(20))
HOST_CSV = b"id,h0,h1,h2\n" + b"".join(f"u{i},{i},1,{i * i}\n".encode() for i in range(30))


def store(ns: str, name: str, csv: bytes, label: str = "y") -> pb.NodeCommand:
    return pb.NodeCommand(
        store_table=pb.StoreTable(
            table=pb.TableRef(namespace=ns, name=name),
            csv=csv,
            id_column="id",
            label_column=label,
            partitions=3,
        )
    )


def run(
    task: str, component: str, *, party: int = 9999, role: str = "guest", host: int = 10000, **fields: object
) -> pb.NodeCommand:
    return pb.NodeCommand(
        run_task=pb.RunTask(
            job_id="job7",
            task_name=task,
            attempt=1,
            component=component,
            role=role,
            party_id=party,
            parties=[
                pb.RoleParties(role="guest", party_ids=[9999]),
                pb.RoleParties(role="host", party_ids=[host]),
            ],
            output_namespace="job7_out",
            **fields,  # type: ignore[arg-type]
        )
    )


async def test_store_allocate_and_run_where_the_data_is(party: Party) -> None:
    nodes = (await party.cluster(cpb.ClusterRequest(list_nodes=cpb.ListNodes()))).nodes.nodes
    assert [(n.node_id, n.state) for n in nodes] == [
        ("node-a", cpb.NODE_STATE_ALIVE),
        ("node-b", cpb.NODE_STATE_ALIVE),
    ]

    stored = await party.node("node-b", store("bank", "loans", GUEST_CSV))
    assert stored.table.rows == 20 and {p.node_id for p in stored.table.partitions} == {"node-b"}
    listed = await party.cluster(cpb.ClusterRequest(list_tables=cpb.ListTables(namespace="bank")))
    assert [t.name for t in listed.tables.tables] == ["loans"]

    session = await party.cluster(
        cpb.ClusterRequest(
            allocate_session=cpb.AllocateSession(
                session_id="job7.norm.1", cpus=2, prefer_tables=["bank.loans"]
            )
        )
    )
    assert list(session.session.node_ids) == ["node-b"]
    elsewhere = await party.cluster(
        cpb.ClusterRequest(allocate_session=cpb.AllocateSession(session_id="other"))
    )
    assert list(elsewhere.session.node_ids) == ["node-a"]  # node-b now carries a session

    target = session.session.node_ids[0]
    accepted = await party.node(
        target,
        run(
            "norm",
            "cptest_normalise",
            input_tables={"data": pb.TableRef(namespace="bank", name="loans")},
            compute_session="job7.norm.1",
        ),
    )
    assert accepted.ok
    final = await party.events.final("norm")
    assert party.events.states("norm")[0] == "RUNNING" and final.state == pb.TASK_STATE_SUCCEEDED
    assert final.node_id == "node-b" and dict(final.summary) == {"rows": 20.0}
    out = final.output_tables["centred"]
    meta = await party.cluster(
        cpb.ClusterRequest(get_table_meta=cpb.GetTableMeta(namespace=out.namespace, name=out.name))
    )
    assert meta.table.rows == 20 and {p.node_id for p in meta.table.partitions} == {"node-b"}
    centred = party.nodes["node-b"].storage.load(out.namespace, out.name)
    np.testing.assert_allclose(centred.features.mean(axis=0), [0.0, 0.0], atol=1e-12)
    released = await party.cluster(
        cpb.ClusterRequest(release_session=cpb.ReleaseSession(session_id="job7.norm.1"))
    )
    assert released.ok


async def test_failure_and_timeout_are_reported(party: Party) -> None:
    await party.node("node-a", run("broken", "cptest_broken"))
    await party.node("node-a", run("stuck", "cptest_waits", timeout_s=0.5))
    broken = await party.events.final("broken")
    assert (
        broken.state == pb.TASK_STATE_FAILED and broken.message == "feature x1 has no variance at party 9999"
    )
    stuck = await party.events.final("stuck", timeout=5)
    assert stuck.state == pb.TASK_STATE_FAILED and "exceeded its timeout" in stuck.message


async def test_expired_session_ends_its_task(party: Party) -> None:
    session = await party.cluster(
        cpb.ClusterRequest(allocate_session=cpb.AllocateSession(session_id="job7.exp.1", timeout_s=0.4))
    )
    node_id = session.session.node_ids[0]
    await party.node(node_id, run("exp", "cptest_waits", compute_session="job7.exp.1"))
    final = await party.events.final("exp", timeout=5)
    assert final.state == pb.TASK_STATE_FAILED and "job7.exp.1 expired" in final.message
    kinds = [e.WhichOneof("event") for e in party.events.cluster]
    assert "session_expired" in kinds


async def test_a_stopped_node_is_reported_lost(party: Party) -> None:
    await party.nodes["node-a"].stop()
    lost = await party.events.lost("node-a")
    assert lost.state == cpb.NODE_STATE_LOST
    nodes = (await party.cluster(cpb.ClusterRequest(list_nodes=cpb.ListNodes()))).nodes.nodes
    assert {n.node_id: n.state for n in nodes} == {
        "node-a": cpb.NODE_STATE_LOST,
        "node-b": cpb.NODE_STATE_ALIVE,
    }
    session = await party.cluster(
        cpb.ClusterRequest(allocate_session=cpb.AllocateSession(session_id="after"))
    )
    assert list(session.session.node_ids) == ["node-b"]
    party.nodes.pop("node-a")


async def test_column_stats_across_two_parties(tmp_path: Path) -> None:
    guest = Party(9999, tmp_path / "guest", ("g1",))
    host = Party(10000, tmp_path / "host", ("h1",))
    await guest.start()
    await host.start()
    router = StandInRouter({9999: guest.bus, 10000: host.bus})
    await router.start()
    try:
        await guest.node("g1", store("bank", "loans", GUEST_CSV))
        await host.node("h1", store("shop", "baskets", HOST_CSV, label=""))
        data = {"data": pb.TableRef(namespace="bank", name="loans")}
        await guest.node("g1", run("stats", "column_stats", input_tables=data))
        host_data = {"data": pb.TableRef(namespace="shop", name="baskets")}
        await host.node("h1", run("stats", "column_stats", party=10000, role="host", input_tables=host_data))
        g = await guest.events.final("stats", party=9999)
        h = await host.events.final("stats", party=10000)
        assert g.state == pb.TASK_STATE_SUCCEEDED, g.message
        assert h.state == pb.TASK_STATE_SUCCEEDED, h.message
        assert dict(g.summary) == {"columns": 5.0, "guest_rows": 20.0, "host_rows": 30.0}
        assert dict(h.summary) == {"rows": 30.0}
        means = codec.decode(g.model)["column_means"]
        np.testing.assert_allclose(means, [9.5, 19.0, 14.5, 1.0, np.mean(np.arange(30) ** 2)])
        assert router.delivered == 1  # only the host's aggregates crossed
        assert [m.name for e in guest.events.tasks for m in e.metrics] == ["federated_columns"]
    finally:
        await host.stop()
        await guest.stop()
        await asyncio.sleep(0)
