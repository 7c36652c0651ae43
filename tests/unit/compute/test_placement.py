"""Placement of a table's rows over node-managers, and the Ray command lines of a party cluster
(no Ray started here)."""

from __future__ import annotations

import json

import pytest

from silobridge.compute.base import split
from silobridge.compute.placement import PartitionPlace, Placement, node_resource
from silobridge.compute.ray_cluster import head_argv, node_argv, ray_env
from silobridge.errors import InvalidInput


def test_spread_deals_contiguous_partitions_with_replicas() -> None:
    p = Placement.spread(10, ["a", "b"], per_node=2, replicas=1)
    assert [(q.index, q.rows, q.node_id, q.replicas) for q in p.partitions] == [
        (0, 2, "a", ("b",)),
        (1, 3, "a", ("b",)),
        (2, 2, "b", ("a",)),
        (3, 3, "b", ("a",)),
    ]
    assert p.rows == 10 and p.node_ids == ["a", "b"]


def test_each_chunk_goes_to_the_holder_of_its_rows() -> None:
    p = Placement.spread(20000, ["a", "b"])
    # what components do: split the rows into compute.workers contiguous chunks
    for chunks in (1, 2, 3, 4, 8):
        places = p.for_chunks(len(split(20000, chunks)))
        bounds = split(20000, chunks)
        for (lo, hi), place in zip(bounds, places, strict=True):
            on_a = max(0, min(hi, 10000) - lo)
            assert place.node_id == ("a" if on_a >= (hi - lo) - on_a else "b"), (chunks, lo, hi)
    assert [q.node_id for q in p.for_chunks(2)] == ["a", "b"]


def test_bad_placements_are_refused() -> None:
    with pytest.raises(InvalidInput, match=r"replicas must be 0\.\.1"):
        Placement.spread(10, ["a", "b"], replicas=2)
    with pytest.raises(InvalidInput, match="at least one node"):
        Placement.spread(10, [])
    with pytest.raises(InvalidInput, match=r"0\.\.n-1"):
        Placement((PartitionPlace(1, 5, "a"),))
    with pytest.raises(InvalidInput, match="node id"):
        node_resource("")


def test_ray_command_lines_of_a_party_cluster() -> None:
    head = head_argv(6390, "/tmp/sbray-1/h", dashboard_port=6391, agent_port=6392, client_port=6393)
    assert "--head" in head and "--num-cpus=0" in head and "--dashboard-host=127.0.0.1" in head
    # workers on OS-picked ports, not ray start's 10002-19999 where the party's services listen
    assert {"--min-worker-port=0", "--max-worker-port=0"} <= set(head)
    node = node_argv("127.0.0.1:6390", "n7", "/tmp/sbray-1/n0", agent_port=6393, cpus=1)
    flags = dict(w.split("=", 1) for w in node if "=" in w)
    assert json.loads(flags["--resources"]) == {node_resource("n7"): 1024}
    assert flags["--num-cpus"] == "1" and flags["--temp-dir"] == "/tmp/sbray-1/n0"
    # a raylet's socket path must fit: a long temp dir is refused before anything starts
    with pytest.raises(InvalidInput, match="socket path"):
        node_argv("127.0.0.1:6390", "n7", "/tmp/" + "x" * 60, agent_port=1)
    assert ray_env("/d/token")["RAY_AUTH_MODE"] == "token"
    assert ray_env(None)["RAY_AUTH_MODE"] == "disabled"  # explicit: never a token found in ~/.ray
