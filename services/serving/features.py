"""A host's online feature table: read once at deploy from the node-manager that holds it.

The serving service asks the cluster-manager where the table is (``cluster.rpc``), then each
node-manager holding a partition for its rows (``ReadTable``); an uploaded table comes from the
node's disk, a bound one from its source, as a task would read it. Nothing here crosses a party.
"""

from __future__ import annotations

import numpy as np

from silobridge import topics
from silobridge.bus.rpc import RpcClient
from silobridge.cluster.v1 import cluster_pb2 as cpb
from silobridge.errors import IntegrityError, InvalidInput, NotFound, PermanentError, RetryableError
from silobridge.federation import codec
from silobridge.node.v1 import node_pb2 as npb


def parse_table(ref: str) -> tuple[str, str]:
    ns, dot, name = ref.partition(".")
    if not dot or not ns or not name:
        raise InvalidInput(f"feature_table {ref!r}: give namespace.name")
    return ns, name


async def _call(rpc: RpcClient, topic: str, body: bytes, timeout: float) -> cpb.ClusterReply:
    reply = cpb.ClusterReply()
    reply.ParseFromString(await rpc.request(topic, body, timeout=timeout))
    if reply.WhichOneof("reply") == "error":
        err = reply.error
        if err.code == "not_found":
            raise NotFound(err.message)
        raise (RetryableError if err.retryable else PermanentError)(f"{err.code}: {err.message}")
    return reply


async def read_features(rpc: RpcClient, ref: str, timeout: float) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(ids, features, feature names) of this party's table ``ns.name``."""
    ns, name = parse_table(ref)
    get = cpb.ClusterRequest(get_table_meta=cpb.GetTableMeta(namespace=ns, name=name))
    meta = (await _call(rpc, topics.CLUSTER_RPC, get.SerializeToString(), timeout)).table
    nodes = sorted({p.node_id for p in meta.partitions})
    if not nodes:
        raise NotFound(f"table {ref} has no partitions on any node")
    ids, feats, names = [], [], None
    for node in nodes:
        cmd = npb.NodeCommand(read_table=npb.ReadTable(table=npb.TableRef(namespace=ns, name=name)))
        data = (await _call(rpc, topics.node_cmd(node), cmd.SerializeToString(), timeout)).table_data
        part = codec.from_bytes(data)
        if not isinstance(part, dict) or not {"ids", "features", "feature_names"} <= set(part):
            raise IntegrityError(f"node {node} sent a malformed table {ref}")
        these = [str(n) for n in np.asarray(part["feature_names"]).ravel()]
        if names is not None and these != names:
            raise IntegrityError(f"the partitions of {ref} disagree on their columns")
        names = these
        ids.append(np.asarray(part["ids"]).astype(str).ravel())
        feats.append(np.asarray(part["features"], dtype=np.float64).reshape(len(ids[-1]), len(these)))
    assert names is not None
    all_ids = np.concatenate(ids)
    if len(set(all_ids.tolist())) != len(all_ids):
        raise InvalidInput(f"table {ref} repeats ids: an online feature table needs one row per id")
    return all_ids, np.vstack(feats), names
