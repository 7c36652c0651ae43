"""flow's side of the cluster-manager and node-manager request/reply contracts.

``cluster.rpc`` takes a ``ClusterRequest`` and answers a ``ClusterReply``; ``StoreTable`` goes
to ``node.<node_id>.cmd`` as a ``NodeCommand`` and is answered with a ``ClusterReply`` too.
``RunTask`` / ``CancelTask`` are fire-and-forget. A reply's ``error`` becomes the matching
:mod:`silobridge.errors` type, carrying the other service's message.
"""

from __future__ import annotations

from silobridge import errors, topics
from silobridge.bus.base import Bus
from silobridge.bus.rpc import RpcClient
from silobridge.cluster.v1 import cluster_pb2
from silobridge.node.v1 import node_pb2

_BY_CODE: dict[str, type[errors.SilobridgeError]] = {
    cls.code: cls
    for cls in (
        errors.InvalidInput,
        errors.PayloadTooLarge,
        errors.IntegrityError,
        errors.NotFound,
        errors.Conflict,
        errors.PermissionDenied,
        errors.RequestTimeout,
        errors.BusUnavailable,
        errors.PermanentError,
    )
}


def raise_for_error(err: cluster_pb2.Error) -> None:
    cls = _BY_CODE.get(err.code)
    if cls is None:
        cls = errors.RetryableError if err.retryable else errors.PermanentError
    if err.retryable and not issubclass(cls, errors.RetryableError):
        cls = errors.RetryableError
    raise cls(err.message or f"cluster error {err.code}")


class ClusterClient:
    """``retry_window_s``: how long a session or table-metadata request that a job depends on is
    sent again while unanswered (a broker restart can keep it away for longer than ``timeout_s``;
    each is safe to apply twice). Listings for the API are asked once."""

    def __init__(
        self, bus: Bus, *, timeout_s: float, upload_timeout_s: float, retry_window_s: float = 0.0
    ) -> None:
        self._bus = bus
        self._rpc = RpcClient(bus, "flow")
        self._timeout = timeout_s
        self._upload_timeout = upload_timeout_s
        self._retry_window = retry_window_s

    async def start(self) -> None:
        await self._rpc.start()

    async def close(self) -> None:
        await self._rpc.close()

    async def _call(
        self, request: cluster_pb2.ClusterRequest, *, retry: bool = True
    ) -> cluster_pb2.ClusterReply:
        body = await self._rpc.request(
            topics.CLUSTER_RPC,
            request.SerializeToString(),
            timeout=self._timeout,
            retry_for=self._retry_window if retry else 0.0,
        )
        return _reply(body)

    async def allocate(
        self, session_id: str, *, cpus: int, timeout_s: float, prefer_tables: list[str]
    ) -> cluster_pb2.ComputeSession:
        reply = await self._call(
            cluster_pb2.ClusterRequest(
                allocate_session=cluster_pb2.AllocateSession(
                    session_id=session_id, cpus=cpus, timeout_s=timeout_s, prefer_tables=prefer_tables
                )
            )
        )
        return _expect(reply, "session", "AllocateSession").session

    async def release(self, session_id: str) -> None:
        await self._call(
            cluster_pb2.ClusterRequest(release_session=cluster_pb2.ReleaseSession(session_id=session_id))
        )

    async def table_meta(self, namespace: str, name: str) -> cluster_pb2.TableMeta | None:
        """The table's metadata, or None when this party has no such table."""
        reply = await self._call(
            cluster_pb2.ClusterRequest(
                get_table_meta=cluster_pb2.GetTableMeta(namespace=namespace, name=name)
            )
        )
        if reply.WhichOneof("reply") == "error" and reply.error.code == errors.NotFound.code:
            return None
        return _expect(reply, "table", "GetTableMeta").table

    async def list_tables(self, namespace: str = "") -> list[cluster_pb2.TableMeta]:
        reply = await self._call(
            cluster_pb2.ClusterRequest(list_tables=cluster_pb2.ListTables(namespace=namespace)), retry=False
        )
        return list(_expect(reply, "tables", "ListTables").tables.tables)

    async def list_nodes(self) -> list[cluster_pb2.NodeInfo]:
        reply = await self._call(cluster_pb2.ClusterRequest(list_nodes=cluster_pb2.ListNodes()), retry=False)
        return list(_expect(reply, "nodes", "ListNodes").nodes.nodes)

    async def _node_call(self, node_id: str, cmd: node_pb2.NodeCommand) -> cluster_pb2.ClusterReply:
        body = await self._rpc.request(
            topics.node_cmd(node_id), cmd.SerializeToString(), timeout=self._upload_timeout
        )
        return _reply(body)

    async def _table_command(
        self, node_id: str, cmd: node_pb2.NodeCommand, what: str
    ) -> cluster_pb2.TableMeta:
        return _expect(await self._node_call(node_id, cmd), "table", what).table

    async def upload_chunk(self, node_id: str, piece: node_pb2.UploadChunk) -> cluster_pb2.TableMeta | None:
        """One piece of a large upload: None when acknowledged, the table after the last piece."""
        reply = await self._node_call(node_id, node_pb2.NodeCommand(upload_chunk=piece))
        if piece.HasField("last"):
            return _expect(reply, "table", "UploadChunk").table
        _expect(reply, "ok", "UploadChunk")
        return None

    async def store_table(self, node_id: str, store: node_pb2.StoreTable) -> cluster_pb2.TableMeta:
        return await self._table_command(node_id, node_pb2.NodeCommand(store_table=store), "StoreTable")

    async def bind_table(self, node_id: str, bind: node_pb2.BindTable) -> cluster_pb2.TableMeta:
        return await self._table_command(node_id, node_pb2.NodeCommand(bind_table=bind), "BindTable")

    async def run_task(self, node_id: str, run: node_pb2.RunTask) -> None:
        await self._bus.publish(
            topics.node_cmd(node_id), node_pb2.NodeCommand(run_task=run).SerializeToString()
        )

    async def cancel_task(self, node_id: str, cancel: node_pb2.CancelTask) -> None:
        await self._bus.publish(
            topics.node_cmd(node_id), node_pb2.NodeCommand(cancel_task=cancel).SerializeToString()
        )


def _reply(body: bytes) -> cluster_pb2.ClusterReply:
    reply = cluster_pb2.ClusterReply()
    try:
        reply.ParseFromString(body)
    except Exception:
        raise errors.IntegrityError("malformed reply from the cluster") from None
    return reply


def _expect(reply: cluster_pb2.ClusterReply, kind: str, what: str) -> cluster_pb2.ClusterReply:
    got = reply.WhichOneof("reply")
    if got == "error":
        raise_for_error(reply.error)
    if got != kind:
        raise errors.IntegrityError(f"{what} answered with {got or 'nothing'} instead of {kind}")
    return reply
