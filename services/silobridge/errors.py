"""The one error hierarchy of silobridge.

Two axes: *retryable* (try again later, the world may change) or *permanent* (the same input
fails the same way). Every error carries a ``public_message`` that is safe to show to another
organisation: it names the problem, never a path, a traceback or a payload.

    SilobridgeError
    ├── RetryableError            -> bus: requeue    gRPC: UNAVAILABLE
    │   ├── BusUnavailable
    │   └── RequestTimeout        -> gRPC: DEADLINE_EXCEEDED
    └── PermanentError            -> bus: dead-letter gRPC: FAILED_PRECONDITION
        ├── InvalidInput          -> HTTP 400, gRPC: INVALID_ARGUMENT
        │   ├── PayloadTooLarge   -> HTTP 413, gRPC: RESOURCE_EXHAUSTED
        │   └── IntegrityError    (digest mismatch, malformed protobuf)
        ├── NotFound              -> HTTP 404, gRPC: NOT_FOUND
        ├── Conflict              -> HTTP 409, gRPC: ALREADY_EXISTS
        ├── PermissionDenied      -> HTTP 403, gRPC: PERMISSION_DENIED
        ├── Unauthenticated       -> HTTP 401, gRPC: UNAUTHENTICATED (no or unknown credential)
        ├── CryptoError           (wrong key, overflow, fingerprint mismatch)
        └── ComponentError        (an algorithm failed on its data)
            └── DisclosureRefused (a party's disclosure limit: too few rows, an undeclared decryption)
"""

from __future__ import annotations

import enum


class Disposition(enum.Enum):
    """What a bus consumer does with a message whose handler raised."""

    ACK = "ack"
    REQUEUE = "requeue"
    DEAD_LETTER = "dead_letter"


class SilobridgeError(Exception):
    retryable: bool = False
    code: str = "internal"
    http_status: int = 500
    grpc_status: str = "INTERNAL"

    def __init__(self, message: str, *, public_message: str | None = None) -> None:
        super().__init__(message)
        self.public_message = public_message if public_message is not None else message


class RetryableError(SilobridgeError):
    retryable = True
    code = "unavailable"
    http_status = 503
    grpc_status = "UNAVAILABLE"

    def __init__(self, message: str, *, delay_s: float = 1.0, public_message: str | None = None) -> None:
        super().__init__(message, public_message=public_message)
        self.delay_s = delay_s


class BusUnavailable(RetryableError):
    code = "bus_unavailable"


class RequestTimeout(RetryableError):
    code = "timeout"
    http_status = 504
    grpc_status = "DEADLINE_EXCEEDED"


class PermanentError(SilobridgeError):
    code = "failed"
    http_status = 422
    grpc_status = "FAILED_PRECONDITION"


class InvalidInput(PermanentError):
    code = "invalid_input"
    http_status = 400
    grpc_status = "INVALID_ARGUMENT"


class PayloadTooLarge(InvalidInput):
    code = "payload_too_large"
    http_status = 413
    grpc_status = "RESOURCE_EXHAUSTED"


class IntegrityError(InvalidInput):
    code = "integrity"


class NotFound(PermanentError):
    code = "not_found"
    http_status = 404
    grpc_status = "NOT_FOUND"


class Conflict(PermanentError):
    code = "conflict"
    http_status = 409
    grpc_status = "ALREADY_EXISTS"


class PermissionDenied(PermanentError):
    code = "permission_denied"
    http_status = 403
    grpc_status = "PERMISSION_DENIED"


class Unauthenticated(PermanentError):
    code = "unauthenticated"
    http_status = 401
    grpc_status = "UNAUTHENTICATED"


class CryptoError(PermanentError):
    code = "crypto"


class ComponentError(PermanentError):
    code = "component_failed"


class DisclosureRefused(ComponentError):
    """A component would release more than this party allows; no job parameter lifts it."""

    code = "disclosure_refused"


def disposition_for(exc: BaseException) -> Disposition:
    """Map a handler's exception to what the bus does with the message."""
    if isinstance(exc, RetryableError):
        return Disposition.REQUEUE
    return Disposition.DEAD_LETTER


def public_message(exc: BaseException) -> str:
    """What may cross to another organisation: the sanitised message, or a generic one."""
    if isinstance(exc, SilobridgeError):
        return exc.public_message
    return "internal error"
