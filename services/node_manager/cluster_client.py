"""The node-manager's side of ``cluster.rpc``: typed calls that raise on ``ClusterReply.error``."""

from __future__ import annotations

import asyncio

from silobridge import topics
from silobridge.bus.base import Bus
from silobridge.bus.rpc import RpcClient
from silobridge.cluster.v1 import cluster_pb2 as pb
from silobridge.errors import (
    Conflict,
    IntegrityError,
    InvalidInput,
    NotFound,
    PermanentError,
    RetryableError,
    SilobridgeError,
)

_BY_CODE: dict[str, type[SilobridgeError]] = {
    "not_found": NotFound,
    "invalid_input": InvalidInput,
    "integrity": IntegrityError,
    "conflict": Conflict,
}


def reply_error(err: pb.Error) -> SilobridgeError:
    """The exception matching a ``ClusterReply.error``."""
    if err.retryable:
        return RetryableError(f"cluster-manager: {err.message}")
    return _BY_CODE.get(err.code, PermanentError)(err.message)


def _reraise_dropped_cancel() -> None:
    """Honour a cancellation that the request swallowed.

    ``RpcClient.request`` waits with ``asyncio.wait_for``, which on Python 3.11 returns the reply
    and drops a cancellation that lands in the same loop iteration as that reply. The caller (the
    heartbeat loop, at node-manager stop) then ran on as if never cancelled, and ``stop`` waited
    for it forever. The dropped request is still counted by ``Task.cancelling()``.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class ClusterClient:
    """``retry_window_s``: how long a table call is sent again while unanswered (a broker restart
    can keep it away for longer than ``timeout_s``); every cluster request is safe to apply twice.
    Membership calls (register, heartbeat) are not: their loops ask again on their own cadence."""

    def __init__(self, bus: Bus, name: str, *, timeout_s: float, retry_window_s: float = 0.0) -> None:
        self._rpc = RpcClient(bus, name)
        self._timeout = timeout_s
        self._retry_window = retry_window_s

    async def start(self) -> None:
        await self._rpc.start()

    async def close(self) -> None:
        await self._rpc.close()

    async def call(self, request: pb.ClusterRequest, *, retry: bool = True) -> pb.ClusterReply:
        body = await self._rpc.request(
            topics.CLUSTER_RPC,
            request.SerializeToString(),
            timeout=self._timeout,
            retry_for=self._retry_window if retry else 0.0,
        )
        _reraise_dropped_cancel()
        reply = pb.ClusterReply()
        try:
            reply.ParseFromString(body)
        except Exception:
            raise IntegrityError("cluster-manager sent a malformed ClusterReply") from None
        if reply.WhichOneof("reply") == "error":
            raise reply_error(reply.error)
        return reply

    async def register(self, node: pb.NodeInfo) -> pb.NodeInfo:
        return (
            await self.call(pb.ClusterRequest(register_node=pb.RegisterNode(node=node)), retry=False)
        ).node

    async def heartbeat(self, node_id: str, running_tasks: int) -> pb.NodeInfo:
        req = pb.ClusterRequest(heartbeat=pb.Heartbeat(node_id=node_id, running_tasks=running_tasks))
        return (await self.call(req, retry=False)).node

    async def put_table_meta(self, meta: pb.TableMeta) -> pb.TableMeta:
        reply = await self.call(pb.ClusterRequest(put_table_meta=meta))
        return reply.table if reply.WhichOneof("reply") == "table" else meta

    async def get_table_meta(self, namespace: str, name: str) -> pb.TableMeta | None:
        """A table's metadata, or None when the cluster-manager does not know it."""
        req = pb.ClusterRequest(get_table_meta=pb.GetTableMeta(namespace=namespace, name=name))
        try:
            return (await self.call(req)).table
        except NotFound:
            return None

    async def delete_table_meta(self, namespace: str, name: str) -> bool:
        """Forget a table at the cluster-manager; False when it did not know the table."""
        req = pb.ClusterRequest(delete_table_meta=pb.DeleteTableMeta(namespace=namespace, name=name))
        try:
            await self.call(req)
        except NotFound:
            return False
        return True
