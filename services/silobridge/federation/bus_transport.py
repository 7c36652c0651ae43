"""Federation over the party's bus and its router: envelopes out on ``router.outbound``,
values in on ``fed.<session>.<name>.<tag>`` (the router publishes them there).

Components run in a worker thread; this class bridges their blocking ``send``/``recv`` to the
event loop that owns the bus.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time

from google.protobuf.timestamp_pb2 import Timestamp

from silobridge import topics
from silobridge.bus.base import Bus, Message, Subscription, new_message_id
from silobridge.bus.dedup import Deduplicator
from silobridge.errors import ComponentError, IntegrityError, RequestTimeout
from silobridge.federation.context import Federation
from silobridge.federation.v1 import envelope_pb2 as env_pb

log = logging.getLogger(__name__)

ROLE_ENUM = {"guest": env_pb.ROLE_GUEST, "host": env_pb.ROLE_HOST, "arbiter": env_pb.ROLE_ARBITER}


def build_envelope(
    *,
    src_party: int,
    src_role: str,
    dst_party: int,
    dst_role: str,
    channel: int,
    payload: bytes,
    session: str = "",
    name: str = "",
    tag: str = "",
    sequence: int = 0,
) -> env_pb.Envelope:
    sent = Timestamp()
    sent.FromNanoseconds(time.time_ns())
    return env_pb.Envelope(
        message_id=new_message_id(),
        src=env_pb.PartyRef(party_id=src_party, role=ROLE_ENUM.get(src_role, env_pb.ROLE_UNSPECIFIED)),
        dst=env_pb.PartyRef(party_id=dst_party, role=ROLE_ENUM.get(dst_role, env_pb.ROLE_UNSPECIFIED)),
        channel=channel,  # type: ignore[arg-type]
        session=session,
        name=name,
        tag=tag,
        sequence=sequence,
        chunk_index=0,
        chunk_count=1,
        payload_digest=hashlib.sha256(payload).digest(),
        payload_size=len(payload),
        sent_at=sent,
        payload=payload,
    )


class BusFederation(Federation):
    def __init__(
        self,
        bus: Bus,
        loop: asyncio.AbstractEventLoop,
        *,
        party_id: int,
        role: str,
        session: str,
    ) -> None:
        self._bus, self._loop = bus, loop
        self.party_id, self.role, self.session = party_id, role, session
        self._box: dict[tuple[int, str, str], bytes] = {}
        self._waiters: dict[tuple[int, str, str], asyncio.Future[bytes]] = {}
        self._dedup = Deduplicator(capacity=10_000)
        self._sub: Subscription | None = None
        self._seq = 0
        self._closed = False

    async def start(self) -> None:
        self._sub = await self._bus.subscribe(
            topics.fed_pattern(self.session), self._on_message, group=topics.fed_group(self.session)
        )

    async def close(self) -> None:
        self._closed = True
        if self._sub is not None:
            await self._sub.cancel()
            self._sub = None
        with contextlib.suppress(Exception):
            await self._bus.delete_group(topics.fed_group(self.session))
        for fut in self._waiters.values():
            fut.cancel()

    async def _on_message(self, msg: Message) -> None:
        env = env_pb.Envelope()
        try:
            env.ParseFromString(msg.body)
        except Exception:
            raise IntegrityError(f"malformed envelope on {msg.topic}") from None
        if env.message_id and self._dedup.seen(env.message_id):
            return
        if hashlib.sha256(env.payload).digest() != env.payload_digest:
            raise IntegrityError(
                f"payload digest mismatch for {env.name}/{env.tag} from party {env.src.party_id}"
            )
        key = (env.src.party_id, env.name, env.tag)
        waiter = self._waiters.pop(key, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(env.payload)
        else:
            self._box[key] = env.payload
        self._dedup.mark(env.message_id)

    # ----- called from the component's thread ----------------------------------------------
    def send(self, dst_party: int, dst_role: str, name: str, tag: str, payload: bytes) -> None:
        self._seq += 1
        env = build_envelope(
            src_party=self.party_id,
            src_role=self.role,
            dst_party=dst_party,
            dst_role=dst_role,
            channel=env_pb.CHANNEL_FEDERATION,
            session=self.session,
            name=name,
            tag=tag,
            sequence=self._seq,
            payload=payload,
        )
        body = env.SerializeToString()
        fut = asyncio.run_coroutine_threadsafe(self._bus.publish(topics.ROUTER_OUTBOUND, body), self._loop)
        fut.result()

    def recv(self, src_party: int, name: str, tag: str, timeout: float) -> bytes:
        fut = asyncio.run_coroutine_threadsafe(self._recv(src_party, name, tag, timeout), self._loop)
        return fut.result()

    async def _recv(self, src_party: int, name: str, tag: str, timeout: float) -> bytes:
        key = (src_party, name, tag)
        if key in self._box:
            return self._box.pop(key)
        if self._closed:
            raise ComponentError(f"federation session {self.session} is closed")
        fut: asyncio.Future[bytes] = self._loop.create_future()
        self._waiters[key] = fut
        try:
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            raise RequestTimeout(
                f"party {self.party_id} received no {name!r} (tag {tag}) from party {src_party} in {timeout:.0f}s"
            ) from None
        finally:
            self._waiters.pop(key, None)
