"""CSV uploads streamed through flow: never more than one piece of the body held at a time.

A body that fits in one piece goes to the node-manager as one ``StoreTable``; a larger one as
``UploadChunk`` pieces of ``CHUNK_BYTES``, each acknowledged before the next is read from the
client (so a slow node-manager slows the client down instead of filling flow's memory). If the
client or the node-manager fails half way, flow aborts the spool; the node-manager also clears
left-over spools when it starts. The node-manager parses the spooled file as a whole.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from fastapi import Request

from silobridge.cluster.v1 import cluster_pb2
from silobridge.errors import PayloadTooLarge
from silobridge.node.v1 import node_pb2

if TYPE_CHECKING:
    from flow.api import ApiBackend

CHUNK_BYTES = 1 << 20


async def stream_upload(
    deps: ApiBackend, request: Request, node_id: str, store: node_pb2.StoreTable
) -> cluster_pb2.TableMeta:
    limit = deps.settings.max_upload_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"CSV upload of {declared} bytes exceeds the limit of {limit} bytes")
    buf, offset, total, upload_id = bytearray(), 0, 0, ""
    try:
        async for part in request.stream():
            total += len(part)
            if total > limit:
                raise PayloadTooLarge(f"CSV upload exceeds the limit of {limit} bytes")
            buf += part
            while len(buf) > CHUNK_BYTES:  # keep the tail for the last piece
                upload_id = upload_id or uuid.uuid4().hex
                piece = node_pb2.UploadChunk(
                    upload_id=upload_id, offset=offset, data=bytes(buf[:CHUNK_BYTES])
                )
                await deps.cluster.upload_chunk(node_id, piece)
                offset += CHUNK_BYTES
                del buf[:CHUNK_BYTES]
        if not upload_id:
            store.csv = bytes(buf)
            return await deps.cluster.store_table(node_id, store)
        last = node_pb2.UploadChunk(upload_id=upload_id, offset=offset, data=bytes(buf), last=store)
        meta = await deps.cluster.upload_chunk(node_id, last)
        assert meta is not None, "the last piece is answered with the table"
        upload_id = ""  # stored: the node-manager removed its spool
        return meta
    finally:
        if upload_id:
            abort = node_pb2.UploadChunk(upload_id=upload_id, abort=True)
            try:
                await deps.cluster.upload_chunk(node_id, abort)
            except Exception:
                pass
