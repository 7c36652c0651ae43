"""Partial scores across parties, through the routers (``CHANNEL_SERVING`` envelopes).

Guest side, :class:`HostLanes`: the ids that concurrent requests need from one host under one
model travel together. Up to ``max_inflight`` requests per (host, model) are in flight; the ids
that arrive meanwhile wait and leave as one batch (at most ``max_batch``) when one comes back, so
a lone request waits for nothing and a busy endpoint sends few, large messages. Each batch has a
deadline of ``host_timeout_s``; a host that does not answer in time, refuses, or lacks an id
fails the waiting requests with an error that names it. The bus message carries the router's
``expires-at`` header, so a request to an unreachable host is dropped by the router instead of
being retried after nobody waits for it.

Host side, :func:`answer`: only a model this party deployed for that guest, only its partial
scores (hetero_lr) or leaf masks (hetero_secureboost) for the ids asked.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field

from serving.registry import ModelKey, Registry
from silobridge import topics
from silobridge.bus.base import Bus, Message
from silobridge.errors import IntegrityError, NotFound, PermanentError, RequestTimeout, SilobridgeError
from silobridge.federation.bus_transport import build_envelope
from silobridge.federation.v1 import envelope_pb2 as env_pb
from silobridge.serving.v1 import serving_pb2 as spb

log = logging.getLogger(__name__)


class HostFailed(PermanentError):
    """A host refused a score request (its message says why); 502 to the caller."""

    code = "host_failed"
    http_status = 502


@dataclass
class _Lane:
    pending: list[tuple[str, asyncio.Future[float | bytes]]] = field(default_factory=list)
    inflight: int = 0


class HostLanes:
    def __init__(
        self,
        bus: Bus,
        *,
        party_id: int,
        replica: str,
        timeout_s: float,
        max_batch: int,
        max_inflight: int,
    ) -> None:
        self.bus, self.party_id, self.replica = bus, party_id, replica
        self.timeout_s, self.max_batch, self.max_inflight = timeout_s, max_batch, max_inflight
        self._lanes: dict[tuple[int, ModelKey], _Lane] = {}
        self._waiting: dict[str, tuple[int, asyncio.Future[spb.ScoreReply]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.batches = 0
        self.batched_ids = 0

    async def partial(self, host: int, key: ModelKey, entity_id: str) -> float | bytes:
        """One id's partial score (hetero_lr) or leaf mask (hetero_secureboost) from ``host``."""
        fut: asyncio.Future[float | bytes] = asyncio.get_running_loop().create_future()
        lane = self._lanes.setdefault((host, key), _Lane())
        lane.pending.append((entity_id, fut))
        if lane.inflight < self.max_inflight:
            self._spawn(host, key, lane)
        return await fut

    def _spawn(self, host: int, key: ModelKey, lane: _Lane) -> None:
        batch, lane.pending = lane.pending[: self.max_batch], lane.pending[self.max_batch :]
        lane.inflight += 1
        task = asyncio.get_running_loop().create_task(self._send(host, key, lane, batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(
        self, host: int, key: ModelKey, lane: _Lane, batch: list[tuple[str, asyncio.Future[float | bytes]]]
    ) -> None:
        try:
            scores: list[float | bytes] = [*await self._ask(host, key, [i for i, _ in batch])]
            for (_, fut), score in zip(batch, scores, strict=True):
                if not fut.done():
                    fut.set_result(score)
        except BaseException as exc:
            err = exc if isinstance(exc, SilobridgeError) else HostFailed(f"host {host}: {exc}")
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(err)
            if not isinstance(exc, Exception):
                raise
        finally:
            lane.inflight -= 1
            if lane.pending and lane.inflight < self.max_inflight:
                self._spawn(host, key, lane)

    async def _ask(self, host: int, key: ModelKey, ids: list[str]) -> list[float] | list[bytes]:
        self.batches += 1
        self.batched_ids += len(ids)
        rid = uuid.uuid4().hex
        req = spb.ScoreRequest(request_id=rid, model=spb.ModelKey(job_id=key.job_id, task=key.task), ids=ids)
        env = build_envelope(
            src_party=self.party_id,
            src_role="guest",
            dst_party=host,
            dst_role="host",
            channel=env_pb.CHANNEL_SERVING,
            name=topics.SERVING_REQUEST,
            tag=self.replica,
            payload=req.SerializeToString(),
        )
        fut: asyncio.Future[spb.ScoreReply] = asyncio.get_running_loop().create_future()
        self._waiting[rid] = (host, fut)
        try:
            expires = time.time() + self.timeout_s
            await self.bus.publish(
                topics.ROUTER_OUTBOUND,
                env.SerializeToString(),
                message_id=env.message_id,
                headers={topics.EXPIRES_AT_HEADER: f"{expires:.3f}"},
            )
            try:
                async with asyncio.timeout(self.timeout_s):
                    reply = await fut
            except TimeoutError:
                raise RequestTimeout(
                    f"host {host} did not answer within {self.timeout_s:g} s (model {key})"
                ) from None
        finally:
            self._waiting.pop(rid, None)
        if reply.HasField("error"):
            cls = NotFound if reply.error.code == "not_found" else HostFailed
            raise cls(f"host {host} refused: {reply.error.message}")
        if reply.missing_ids:
            shown = ", ".join(list(reply.missing_ids)[:3])
            raise NotFound(f"host {host} has no features for id {shown} (model {key})")
        if reply.leaf_masks and not reply.partial_scores:
            if len(reply.leaf_masks) != len(ids):
                raise IntegrityError(
                    f"host {host} sent {len(reply.leaf_masks)} leaf masks for {len(ids)} ids"
                )
            return list(reply.leaf_masks)
        if len(reply.partial_scores) != len(ids):
            raise IntegrityError(
                f"host {host} sent {len(reply.partial_scores)} partial scores for {len(ids)} ids"
            )
        return list(reply.partial_scores)

    async def on_reply(self, msg: Message) -> None:
        env = env_pb.Envelope()
        try:
            env.ParseFromString(msg.body)
            reply = spb.ScoreReply()
            reply.ParseFromString(env.payload)
        except Exception:
            log.warning("malformed score reply on %s dropped", msg.topic)
            return
        waiting = self._waiting.get(reply.request_id)
        if waiting is None:
            return  # late (timed out) or a duplicate delivery
        host, fut = waiting
        if env.src.party_id != host:
            log.warning(
                "score reply %s from party %s, asked party %s: dropped",
                reply.request_id,
                env.src.party_id,
                host,
            )
            return
        if not fut.done():
            fut.set_result(reply)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for _, fut in self._waiting.values():
            fut.cancel()


MAX_ID_CHARS = 256


def answer(registry: Registry, party_id: int, env: env_pb.Envelope, *, max_ids: int) -> spb.ScoreReply:
    """A host's reply: a model this party deployed as host, for that model's guest, else refused.

    A request is bounded by this party's own ``max_batch`` ids of at most ``MAX_ID_CHARS``
    characters each, whatever the guest's settings say."""
    req = spb.ScoreRequest()
    try:
        req.ParseFromString(env.payload)
    except Exception:
        return spb.ScoreReply(error=spb.ScoreError(code="invalid_input", message="malformed ScoreRequest"))
    if len(req.ids) > max_ids or any(len(i) > MAX_ID_CHARS for i in req.ids):
        return spb.ScoreReply(
            request_id=req.request_id,
            error=spb.ScoreError(
                code="invalid_input",
                message=f"a score request holds at most {max_ids} ids of at most {MAX_ID_CHARS} "
                f"characters at party {party_id}; got {len(req.ids)}",
            ),
        )
    key = ModelKey(req.model.job_id, req.model.task)
    d = registry.for_key(key)
    guest = env.src.party_id
    if d is None or d.role != "host" or guest not in d.parties.get("guest", []):
        # the same words whether the model is unknown or deployed for another guest
        return spb.ScoreReply(
            request_id=req.request_id,
            error=spb.ScoreError(
                code="not_deployed",
                message=f"model {key} is not deployed at party {party_id} for party {guest}",
            ),
        )
    values, missing = d.scorer.lookup(list(req.ids))
    reply = spb.ScoreReply(request_id=req.request_id, missing_ids=missing)
    getattr(reply, d.scorer.reply_field).extend(values)  # partial_scores or leaf_masks
    return reply


def reply_envelope(party_id: int, request: env_pb.Envelope, reply: spb.ScoreReply) -> env_pb.Envelope:
    return build_envelope(
        src_party=party_id,
        src_role="host",
        dst_party=request.src.party_id,
        dst_role="guest",
        channel=env_pb.CHANNEL_SERVING,
        name=topics.SERVING_REPLY,
        tag=request.tag,
        payload=reply.SerializeToString(),
    )
