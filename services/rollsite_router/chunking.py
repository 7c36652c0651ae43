"""Split an Envelope's payload into chunk envelopes, and put them back together on arrival.

Chunks share the message id and carry ``chunk_index``/``chunk_count`` plus the digest and size of
the *whole* payload, so the receiver can verify the result. The reassembler bounds memory (a cap
over all partial messages) and time (a partial message is dropped after a timeout), tolerates
duplicate and out-of-order chunks, and refuses chunks that contradict each other.

The cap counts every buffered byte: the stored header of each partial message and the payload
of each chunk, each with a fixed charge for the Python objects that hold it, so a flood of
headers or of one-byte chunks fills the cap as surely as large chunks do. Besides the cap, a
peer has at most ``max_partials_per_peer`` partial messages, header names are bounded, and a
chunk of a multi-chunk message must carry payload.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from silobridge.errors import IntegrityError, InvalidInput, PayloadTooLarge, RetryableError
from silobridge.federation.v1 import envelope_pb2 as env_pb

DIGEST_BYTES = 32
# What one stored partial header / one stored chunk costs beyond its bytes (objects, dict entries).
PARTIAL_OVERHEAD_BYTES = 1536
CHUNK_OVERHEAD_BYTES = 128
MAX_HEADER_BYTES = 4096
MAX_NAME_CHARS = 256
DEFAULT_MAX_PARTIALS_PER_PEER = 64
_NAMED_FIELDS = ("message_id", "session", "name", "tag")


def digest(payload: bytes) -> bytes:
    return hashlib.sha256(payload).digest()


def split(envelope: env_pb.Envelope, chunk_bytes: int) -> list[env_pb.Envelope]:
    """Chunk envelopes of at most ``chunk_bytes`` payload each (one, for a small payload).

    The whole-payload digest is (re)computed here; a non-empty digest that does not match the
    payload means the producer is broken, and nothing is sent.
    """
    if chunk_bytes < 1:
        raise InvalidInput("chunk size must be positive")
    payload = envelope.payload
    whole = digest(payload)
    if envelope.payload_digest and envelope.payload_digest != whole:
        raise IntegrityError(f"envelope {envelope.message_id}: payload digest does not match its payload")
    count = max(1, -(-len(payload) // chunk_bytes))
    header = env_pb.Envelope()
    header.CopyFrom(envelope)
    header.ClearField("payload")
    header.payload_digest = whole
    header.payload_size = len(payload)
    header.chunk_count = count
    view = memoryview(payload)
    chunks = []
    for i in range(count):
        chunk = env_pb.Envelope()
        chunk.CopyFrom(header)
        chunk.chunk_index = i
        chunk.payload = bytes(view[i * chunk_bytes : (i + 1) * chunk_bytes])
        chunks.append(chunk)
    return chunks


@dataclass
class _Partial:
    first: env_pb.Envelope
    started: float
    peer: Hashable
    cost: int  # bytes charged to the cap: header + chunks + their overheads
    parts: dict[int, bytes] = field(default_factory=dict)
    received: int = 0  # payload bytes


def _peer_of(key: Hashable) -> Hashable:
    """Keys are ``(peer, message_id)`` as the router builds them; any other key is its own peer."""
    return key[0] if isinstance(key, tuple) and key else key


class Reassembler:
    """Collects chunks per ``(peer, message_id)`` until a whole envelope can be returned."""

    def __init__(
        self,
        *,
        max_payload_bytes: int,
        max_inflight_bytes: int,
        timeout_s: float,
        max_partials_per_peer: int = DEFAULT_MAX_PARTIALS_PER_PEER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_payload_bytes = max_payload_bytes
        self.max_inflight_bytes = max_inflight_bytes
        self.timeout_s = timeout_s
        self.max_partials_per_peer = max_partials_per_peer
        self._clock = clock
        self._partials: dict[Hashable, _Partial] = {}
        self._per_peer: Counter[Hashable] = Counter()
        self.inflight_bytes = 0  # everything charged to the cap, headers included

    def __len__(self) -> int:
        return len(self._partials)

    def add(self, key: Hashable, chunk: env_pb.Envelope) -> env_pb.Envelope | None:
        """Store one chunk; return the whole envelope (chunk_count 1) once every chunk is in.

        Raises IntegrityError for inconsistent chunks or a digest mismatch (the partial message
        is dropped), PayloadTooLarge for a message over the size limit, RetryableError when the
        memory cap is reached (the sender may try again later).
        """
        count, index, size = chunk.chunk_count, chunk.chunk_index, chunk.payload_size
        if size > self.max_payload_bytes:
            raise PayloadTooLarge(
                f"message of {size} bytes exceeds the limit of {self.max_payload_bytes} bytes"
            )
        if count < 1 or index >= count:
            raise IntegrityError(f"chunk {index} of {count}: index out of range")
        if count > max(1, size):
            raise IntegrityError(f"{count} chunks for a payload of {size} bytes")
        if len(chunk.payload_digest) != DIGEST_BYTES:
            raise IntegrityError("chunk without a sha256 payload digest")
        _check_names(chunk)
        if count == 1:
            return self._finish(chunk, chunk.payload)
        n = len(chunk.payload)
        if n == 0:
            raise IntegrityError(
                f"chunk {index} of {count} of message {chunk.message_id[:64]} carries no payload"
            )
        partial = self._partials.get(key) or self._start(key, chunk)
        if not _same_message(partial.first, chunk):
            self.drop(key)
            raise IntegrityError(f"chunk {index} of message {chunk.message_id} contradicts earlier chunks")
        if index in partial.parts:
            return None  # a duplicate (retried send): keep the first copy
        if partial.received + n > size:
            self.drop(key)
            raise IntegrityError(f"message {chunk.message_id}: chunks exceed the declared {size} bytes")
        cost = n + CHUNK_OVERHEAD_BYTES
        if self.inflight_bytes + cost > self.max_inflight_bytes:
            if not partial.parts:
                self.drop(key)
            raise self._full()
        partial.parts[index] = chunk.payload
        partial.received += n
        partial.cost += cost
        self.inflight_bytes += cost
        if len(partial.parts) < count:
            return None
        self.drop(key)
        payload = b"".join(partial.parts[i] for i in range(count))
        return self._finish(partial.first, payload)

    def _start(self, key: Hashable, chunk: env_pb.Envelope) -> _Partial:
        """A new partial message, charged for its header, within the cap and the peer's quota."""
        peer = _peer_of(key)
        if self._per_peer[peer] >= self.max_partials_per_peer:
            raise RetryableError(
                f"peer {peer} already has {self._per_peer[peer]} partial messages "
                f"(limit {self.max_partials_per_peer})",
                public_message="too many partly sent messages from your party, retry later",
            )
        header = env_pb.Envelope()
        header.CopyFrom(chunk)
        header.ClearField("payload")
        header.ClearField("chunk_index")
        size = header.ByteSize()
        if size > MAX_HEADER_BYTES:
            raise IntegrityError(f"chunk header of {size} bytes exceeds {MAX_HEADER_BYTES} bytes")
        cost = size + PARTIAL_OVERHEAD_BYTES
        if self.inflight_bytes + cost > self.max_inflight_bytes:
            raise self._full()
        partial = _Partial(first=header, started=self._clock(), peer=peer, cost=cost)
        self._partials[key] = partial
        self._per_peer[peer] += 1
        self.inflight_bytes += cost
        return partial

    def _full(self) -> RetryableError:
        return RetryableError(
            f"reassembly buffer full ({self.inflight_bytes} of {self.max_inflight_bytes} bytes)",
            public_message="receiving router is busy, retry later",
        )

    def drop(self, key: Hashable) -> None:
        partial = self._partials.pop(key, None)
        if partial is not None:
            self.inflight_bytes -= partial.cost
            self._per_peer[partial.peer] -= 1
            if self._per_peer[partial.peer] <= 0:
                del self._per_peer[partial.peer]

    def expire(self) -> list[Hashable]:
        """Drop partial messages older than the timeout; returns their keys."""
        cutoff = self._clock() - self.timeout_s
        stale = [k for k, p in self._partials.items() if p.started < cutoff]
        for key in stale:
            self.drop(key)
        return stale

    def _finish(self, header: env_pb.Envelope, payload: bytes) -> env_pb.Envelope:
        if len(payload) != header.payload_size:
            raise IntegrityError(
                f"message {header.message_id}: {len(payload)} bytes received, {header.payload_size} declared"
            )
        if digest(payload) != header.payload_digest:
            raise IntegrityError(f"message {header.message_id}: payload digest mismatch")
        whole = env_pb.Envelope()
        whole.CopyFrom(header)
        whole.chunk_index = 0
        whole.chunk_count = 1
        whole.payload = payload
        return whole


_HEADER_FIELDS = (
    "message_id",
    "src",
    "dst",
    "channel",
    "session",
    "name",
    "tag",
    "sequence",
    "chunk_count",
    "payload_digest",
    "payload_size",
)


def _check_names(chunk: env_pb.Envelope) -> None:
    for name in _NAMED_FIELDS:
        value = getattr(chunk, name)
        if len(value) > MAX_NAME_CHARS:
            raise IntegrityError(f"chunk {name} of {len(value)} characters exceeds {MAX_NAME_CHARS}")


def _same_message(a: env_pb.Envelope, b: env_pb.Envelope) -> bool:
    """Every header field except the chunk index, the chunk's own payload, and the send time and
    signature must agree. A sender redelivering a message re-signs it with a new send time; the
    router verified each chunk's own signature before it got here."""
    return all(getattr(a, f) == getattr(b, f) for f in _HEADER_FIELDS)
