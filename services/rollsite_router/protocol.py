"""What an Ack means on the wire: ``ok``, or ``error = "<code>: <public message>"``.

The code is the error type's ``code`` (see :mod:`silobridge.errors`), so the sending router can
tell a refusal that will never succeed (dead-letter) from a transient one (retry later), while
only the sanitised public message crosses the party boundary.
"""

from __future__ import annotations

from silobridge.errors import (
    IntegrityError,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    PermanentError,
    PermissionDenied,
    RetryableError,
    SilobridgeError,
    public_message,
)
from silobridge.federation.v1 import envelope_pb2 as env_pb
from silobridge.router.v1 import router_pb2

MAX_ERROR_CHARS = 512

_PERMANENT: dict[str, type[PermanentError]] = {
    PermissionDenied.code: PermissionDenied,
    IntegrityError.code: IntegrityError,
    PayloadTooLarge.code: PayloadTooLarge,
    InvalidInput.code: InvalidInput,
    NotFound.code: NotFound,
}


def ok_ack(chunk: env_pb.Envelope) -> router_pb2.Ack:
    return router_pb2.Ack(message_id=chunk.message_id, chunk_index=chunk.chunk_index, ok=True)


def error_ack(chunk: env_pb.Envelope, exc: BaseException) -> router_pb2.Ack:
    code = exc.code if isinstance(exc, SilobridgeError) else "internal"
    text = f"{code}: {public_message(exc)}"[:MAX_ERROR_CHARS]
    return router_pb2.Ack(message_id=chunk.message_id, chunk_index=chunk.chunk_index, ok=False, error=text)


def error_from_ack(ack: router_pb2.Ack, peer: int) -> SilobridgeError:
    """The sender's view of a refusal: retryable codes requeue, everything else dead-letters."""
    code, _, text = ack.error.partition(": ")
    message = f"party {peer}'s router refused message {ack.message_id} (chunk {ack.chunk_index}): {ack.error}"
    if code in ("unavailable", "bus_unavailable", "timeout"):
        return RetryableError(message, public_message=text or ack.error)
    return _PERMANENT.get(code, PermanentError)(message, public_message=text or ack.error)
