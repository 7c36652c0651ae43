"""A party's Ray cluster of several node-managers on this host (issue 16): one head, one Ray node
per node-manager (its own raylet, resource, CPU and temp dir), this test process attached to the
node of node-manager ``a`` as a node-manager's process is. One cluster for the whole module."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from silobridge.compute.placement import Placement
from silobridge.compute.ray_cluster import LocalRayCluster

pytestmark = [pytest.mark.ray, pytest.mark.multiprocess]

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalRayCluster]:
    if ray.is_initialized():
        ray.shutdown()  # another module's local session
    saved = dict(os.environ)
    c = LocalRayCluster(token=False).start()  # ray is imported already here
    try:
        temp = c.add_node("a")
        for node in ("b", "c", "d", "e"):
            c.add_node(node)
        os.environ.update(c.env)
        from silobridge.compute.ray_backend import RayBackend

        RayBackend(address=c.address, temp_dir=temp)  # attach this process to node a
        yield c
    finally:
        if ray.is_initialized():
            ray.shutdown()
        c.stop()
        os.environ.clear()
        os.environ.update(saved)


def _ray_node_ids() -> dict[str, str]:
    from silobridge.compute.ray_backend import RayBackend

    return RayBackend._ray_nodes()


def test_a_node_managers_process_runs_on_its_own_node(cluster: LocalRayCluster) -> None:
    assert ray.get_runtime_context().get_node_id() == _ray_node_ids()["a"]
    resources = ray.cluster_resources()
    assert {k for k in resources if k.startswith("silobridge_node_")} == {
        f"silobridge_node_{n}" for n in "abcde"
    }
    assert resources["CPU"] == 5  # one per node, none on the head


def test_encryption_runs_on_the_nodes_holding_the_partitions(cluster: LocalRayCluster) -> None:
    from ray.util.state import list_tasks

    from silobridge.compute.ray_backend import RayBackend
    from silobridge.crypto import generate_keypair

    pk, sk = generate_keypair(1024)
    backend = RayBackend(placement=Placement.spread(400, ["a", "b"]))
    assert backend.workers == 2
    x = np.linspace(-3, 3, 400)
    ev = pk.encrypt_vector(x, compute=backend)
    np.testing.assert_allclose(sk.decrypt_vector(ev), x, atol=1e-9)
    assert backend.locality.share == 1.0
    assert set(backend.locality.by_node) == {"a", "b"}
    # Ray's own state API: each task ran on the node holding its partition
    nodes = _ray_node_ids()
    deadline = time.monotonic() + 20
    while True:
        placed = [t for t in list_tasks(limit=1000) if "[p" in (t.name or "") and t.state == "FINISHED"]
        if {t.name.rsplit("@", 1)[1][:-1] for t in placed} >= {"a", "b"} or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert placed, "the state API lists no placed task"
    for task in placed:
        holder = task.name.rsplit("@", 1)[1][:-1]
        assert task.node_id == nodes[holder], task.name
    assert {nodes[t.name.rsplit("@", 1)[1][:-1]] for t in placed} == {nodes["a"], nodes["b"]}


LR_ROWS = 600
LR_ARGS = {"key_bits": 1024, "batch_size": 300, "workers": 2}


@pytest.fixture(scope="module")
def lr_single_process() -> dict[str, Any]:
    """One hetero_lr epoch as the single-process party on this 2-core host runs it: 2 local
    workers, so 2 chunks as on 2 nodes."""
    from silobridge.bench.hetero_lr_epoch import make_tables, run_epoch

    return run_epoch(*make_tables(LR_ROWS, 10), "fast", **LR_ARGS)


def _lr_on_ray(placement: Placement) -> tuple[dict[str, Any], list[Any]]:
    from silobridge.bench.hetero_lr_epoch import make_tables, run_epoch
    from silobridge.compute.ray_backend import RayBackend

    backends: list[RayBackend] = []

    def make() -> RayBackend:
        backends.append(RayBackend(placement=placement))
        return backends[-1]

    return run_epoch(*make_tables(LR_ROWS, 10), "fast", make_compute=make, **LR_ARGS), backends


def _same_model(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a["auc"] == b["auc"]
    # the weights differ by ~1e-12 between runs with different chunk timing (float sums in the
    # engine), far below the fixed-point precision of the encrypted values
    np.testing.assert_allclose(a["weights"], b["weights"], rtol=0, atol=1e-9)


def test_hetero_lr_on_two_nodes_gives_the_single_process_model(
    cluster: LocalRayCluster, lr_single_process: dict[str, Any]
) -> None:
    on_ray, backends = _lr_on_ray(Placement.spread(LR_ROWS, ["a", "b"]))
    _same_model(on_ray, lr_single_process)
    assert sum(b.locality.tasks for b in backends) > 0
    assert all(b.locality.share == 1.0 for b in backends)
    assert {n for b in backends for n in b.locality.by_node} == {"a", "b"}


def test_a_replicated_partition_survives_its_lost_node(cluster: LocalRayCluster) -> None:
    from silobridge.compute.ray_backend import RayBackend

    backend = RayBackend(placement=Placement.spread(100, ["c", "b"], replicas=1))
    threading.Timer(1.0, cluster.kill_node, ["c"]).start()
    t0 = time.monotonic()
    assert backend.map(time.sleep, [3.0, 3.0]) == [None, None]
    assert time.monotonic() - t0 < 30
    # the killed node's chunks ran again on b, which holds the replica
    assert backend.locality.retried >= 1 and backend.locality.on_replica >= 1
    assert backend.locality.share == 1.0


def test_a_replicated_job_survives_a_lost_node_with_the_same_model(
    cluster: LocalRayCluster, lr_single_process: dict[str, Any]
) -> None:
    """Node e is killed 0.5 s into the job (its epoch has several batches after that): the work of
    its partition goes on at b, which holds the replica, and the model is the same."""
    killed_at: list[float] = []

    def kill() -> None:
        cluster.kill_node("e")
        killed_at.append(time.monotonic())

    timer = threading.Timer(0.5, kill)
    timer.start()
    on_ray, backends = _lr_on_ray(Placement.spread(LR_ROWS, ["e", "b"], replicas=1))
    ended_at = time.monotonic()
    timer.join()
    assert killed_at and killed_at[0] < ended_at  # e was lost while the job ran
    _same_model(on_ray, lr_single_process)
    assert sum(b.locality.on_replica for b in backends) >= 1  # e's partition went on at b
    assert all(b.locality.share == 1.0 for b in backends)


def test_an_unreplicated_partition_fails_at_once_naming_node_and_partition(cluster: LocalRayCluster) -> None:
    from silobridge.compute.ray_backend import PartitionLost, RayBackend

    backend = RayBackend(placement=Placement.spread(100, ["d", "a"]))
    threading.Timer(1.0, cluster.kill_node, ["d"]).start()
    t0 = time.monotonic()
    with pytest.raises(PartitionLost, match=r"node-manager d was lost .* partition 0 \(50 rows\)") as err:
        backend.map(time.sleep, [5.0, 0.1])
    assert err.value.retryable
    assert time.monotonic() - t0 < 15
    # later work for the lost partition fails before it is submitted
    with pytest.raises(PartitionLost, match="partition 0"):
        backend.map(abs, [1.0, 2.0])
