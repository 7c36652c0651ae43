"""The placement policy: data locality first, then the least loaded node."""

from __future__ import annotations

from cluster_manager.allocation import choose_nodes, node_loads
from silobridge.cluster.v1 import cluster_pb2 as pb


def _node(node_id: str, cpus: int = 4, running: int = 0) -> pb.NodeInfo:
    return pb.NodeInfo(node_id=node_id, cpus=cpus, running_tasks=running, state=pb.NODE_STATE_ALIVE)


def _table(*holders: tuple[str, int]) -> pb.TableMeta:
    return pb.TableMeta(
        namespace="ns",
        name="t",
        partitions=[pb.PartitionMeta(index=i, node_id=n, rows=r) for i, (n, r) in enumerate(holders)],
    )


def test_least_loaded_without_preference() -> None:
    nodes = [_node("a", running=3), _node("b", running=1), _node("c", running=2)]
    assert choose_nodes(nodes, [], []) == ["b"]


def test_sessions_count_as_load() -> None:
    nodes = [_node("a"), _node("b")]
    busy = [pb.ComputeSession(session_id="s", node_ids=["a"], cpus=4)]
    assert node_loads(nodes, busy) == {"a": 1.0, "b": 0.0}
    assert choose_nodes(nodes, busy, []) == ["b"]


def test_load_is_relative_to_cpus() -> None:
    nodes = [_node("small", cpus=1, running=1), _node("big", cpus=16, running=4)]
    assert choose_nodes(nodes, [], []) == ["big"]


def test_prefers_the_node_holding_the_table_even_when_busier() -> None:
    nodes = [_node("a", running=0), _node("b", running=3)]
    assert choose_nodes(nodes, [], [_table(("b", 100))]) == ["b"]


def test_all_holders_included_most_rows_first() -> None:
    nodes = [_node("a"), _node("b"), _node("c")]
    assert choose_nodes(nodes, [], [_table(("a", 10), ("c", 90))]) == ["c", "a"]


def test_holders_that_are_not_alive_are_skipped() -> None:
    # only alive nodes are passed in: a table whose holder is lost falls back to the least loaded
    nodes = [_node("a", running=2), _node("b", running=1)]
    assert choose_nodes(nodes, [], [_table(("lost", 10))]) == ["b"]


def test_no_alive_node() -> None:
    assert choose_nodes([], [], [_table(("a", 1))]) == []
