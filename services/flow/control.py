"""Control messages between the flows of the parties, as ``CHANNEL_CONTROL`` envelopes.

Out: an ``Envelope`` carrying a ``ControlMessage`` is published on ``router.outbound``; the
router delivers it to the destination party's ``flow.control``. In: the receiving router
guarantees ``src.party_id`` is the authenticated sender, so that is who a message is from.
"""

from __future__ import annotations

import hashlib
import logging

from silobridge import topics
from silobridge.bus.base import Bus
from silobridge.errors import IntegrityError, PermissionDenied
from silobridge.federation.bus_transport import build_envelope
from silobridge.federation.v1 import envelope_pb2
from silobridge.flow.v1 import flow_pb2

log = logging.getLogger(__name__)

MAX_CONTROL_BYTES = 4 * 1024 * 1024


class ControlChannel:
    def __init__(self, bus: Bus, party_id: int) -> None:
        self._bus = bus
        self.party_id = party_id

    async def send(
        self,
        dst_party: int,
        dst_role: str,
        src_role: str,
        msg: flow_pb2.ControlMessage,
        *,
        expires_at: float | None = None,
    ) -> None:
        """Publish for the router; ``expires_at`` (unix time): the router drops it unsent after that."""
        msg.from_party_id = self.party_id
        kind = msg.WhichOneof("command") or "none"
        env = build_envelope(
            src_party=self.party_id,
            src_role=src_role,
            dst_party=dst_party,
            dst_role=dst_role,
            channel=envelope_pb2.CHANNEL_CONTROL,
            payload=msg.SerializeToString(),
            name="control",
            tag=kind,
        )
        headers = None if expires_at is None else {topics.EXPIRES_AT_HEADER: f"{expires_at:.3f}"}
        await self._bus.publish(
            topics.ROUTER_OUTBOUND, env.SerializeToString(), message_id=env.message_id, headers=headers
        )
        log.log(
            logging.DEBUG if kind == "heartbeat" else logging.INFO,
            "sent %s for job %s to party %d",
            kind,
            msg.job_id,
            dst_party,
            extra={"peer": str(dst_party), "topic": topics.ROUTER_OUTBOUND, "message_id": env.message_id},
        )


def parse_control(body: bytes) -> tuple[int, flow_pb2.ControlMessage, str]:
    """Envelope bytes from ``flow.control`` -> (sender party, message, message id)."""
    if len(body) > MAX_CONTROL_BYTES:
        raise IntegrityError(f"control envelope of {len(body)} bytes exceeds {MAX_CONTROL_BYTES} bytes")
    env = envelope_pb2.Envelope()
    try:
        env.ParseFromString(body)
    except Exception:
        raise IntegrityError("malformed envelope on flow.control") from None
    if env.channel != envelope_pb2.CHANNEL_CONTROL:
        raise IntegrityError(
            f"envelope from party {env.src.party_id} on flow.control is not a control message"
        )
    if hashlib.sha256(env.payload).digest() != env.payload_digest:
        raise IntegrityError(f"control payload digest mismatch from party {env.src.party_id}")
    msg = flow_pb2.ControlMessage()
    try:
        msg.ParseFromString(env.payload)
    except Exception:
        raise IntegrityError(f"malformed control message from party {env.src.party_id}") from None
    if msg.from_party_id != env.src.party_id:
        raise PermissionDenied(
            f"control message claims to be from party {msg.from_party_id} but came from party {env.src.party_id}"
        )
    if not env.message_id:
        raise IntegrityError(f"control envelope from party {env.src.party_id} has no message id")
    return env.src.party_id, msg, env.message_id
