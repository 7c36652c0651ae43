"""The bus contract every backend implements (memory, RabbitMQ, Pulsar).

Topics are dot-separated words (``fed.<session>.<name>.<tag>``). A subscription names a
*group*: every message whose topic matches the group's pattern is kept for the group until one
of its consumers acknowledges it (competing consumers within a group, a copy per group).
Patterns use AMQP topic syntax: ``*`` matches one word, ``#`` zero or more.

Delivery is at-least-once. A handler that returns acknowledges the message. A handler that
raises :class:`~silobridge.errors.RetryableError` (or an unexpected exception) gets the message
again, up to ``max_deliveries``; after that, or at once for a
:class:`~silobridge.errors.PermanentError`, the message goes to the group's dead-letter queue.
Handlers must be idempotent on ``Message.message_id`` (see :mod:`silobridge.bus.dedup`).
"""

from __future__ import annotations

import abc
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from silobridge.errors import Disposition, InvalidInput, PermanentError

_log = logging.getLogger(__name__)

DEFAULT_MAX_DELIVERIES = 5
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
# AMQP short strings (routing keys, queue names, message ids) hold at most 255 bytes; the same
# limit applies to every backend so that code tested on memory:// works on a broker.
MAX_NAME_BYTES = 255

_WORD = re.compile(r"^[A-Za-z0-9_\-]+$")


@dataclass(frozen=True)
class Message:
    topic: str
    body: bytes
    message_id: str
    headers: Mapping[str, str] = field(default_factory=dict)
    redelivered: bool = False
    delivery_count: int = 1


Handler = Callable[[Message], Awaitable[None]]


class Subscription(abc.ABC):
    @abc.abstractmethod
    async def cancel(self) -> None:
        """Stop consuming; unacknowledged messages go back to the group."""


class Bus(abc.ABC):
    """Publish/subscribe with explicit ack. Use as ``async with create_bus(url) as bus``."""

    url: str

    @abc.abstractmethod
    async def start(self) -> None: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def publish(
        self,
        topic: str,
        body: bytes,
        *,
        message_id: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> str:
        """Publish and wait until the broker has taken responsibility. Returns the message id."""

    @abc.abstractmethod
    async def declare_group(self, pattern: str, group: str, *, durable: bool = True) -> None:
        """Create the group now so that messages published before any consumer are kept."""

    @abc.abstractmethod
    async def subscribe(
        self,
        pattern: str,
        handler: Handler,
        *,
        group: str,
        durable: bool = True,
        max_deliveries: int = DEFAULT_MAX_DELIVERIES,
        prefetch: int = 16,
    ) -> Subscription:
        """Consume the group's messages with ``handler``; declares the group if needed."""

    @abc.abstractmethod
    async def delete_group(self, group: str) -> None:
        """Drop the group and whatever it still holds (end of a federation session)."""

    @abc.abstractmethod
    async def dead_letters(self, group: str, *, limit: int = 100) -> list[Message]:
        """Messages the group gave up on, oldest first, removed from the dead-letter queue."""

    async def __aenter__(self) -> Bus:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def new_message_id() -> str:
    return uuid.uuid4().hex


def _check_length(value: str, what: str) -> None:
    if len(value.encode()) > MAX_NAME_BYTES:
        raise InvalidInput(
            f"{what} {value[:40]!r}... is {len(value.encode())} bytes long; the limit is {MAX_NAME_BYTES}"
        )


def check_topic(topic: str) -> str:
    words = topic.split(".")
    if not topic or not all(_WORD.match(w) for w in words):
        raise InvalidInput(f"invalid topic {topic!r}: dot-separated words of [A-Za-z0-9_-]")
    _check_length(topic, "topic")
    return topic


def check_pattern(pattern: str) -> str:
    words = pattern.split(".")
    if not pattern or not all(w in ("*", "#") or _WORD.match(w) for w in words):
        raise InvalidInput(
            f"invalid topic pattern {pattern!r}: dot-separated words of [A-Za-z0-9_-], "
            "'*' (one word) or '#' (zero or more words)"
        )
    _check_length(pattern, "topic pattern")
    return pattern


def check_group(group: str) -> str:
    """Group names become queue/subscription names: words of [A-Za-z0-9_-], dots allowed."""
    if not group or not _WORD.match(group.replace(".", "_")):
        raise InvalidInput(f"invalid group {group!r}: use [A-Za-z0-9_-] and dots")
    _check_length(group, "group")
    return group


def check_message_id(message_id: str) -> str:
    if not message_id:
        raise InvalidInput("empty message id")
    _check_length(message_id, "message id")
    return message_id


def check_word(value: str, what: str) -> str:
    if not _WORD.match(value):
        raise InvalidInput(f"invalid {what} {value!r}: use [A-Za-z0-9_-]")
    return value


def check_size(body: bytes, limit: int = MAX_MESSAGE_BYTES) -> None:
    if len(body) > limit:
        from silobridge.errors import PayloadTooLarge

        raise PayloadTooLarge(f"message of {len(body)} bytes exceeds the bus limit of {limit} bytes")


def check_max_deliveries(max_deliveries: int) -> int:
    if max_deliveries < 1:
        raise InvalidInput(f"max_deliveries must be at least 1, not {max_deliveries}")
    return max_deliveries


def topic_matches(pattern: str, topic: str) -> bool:
    """AMQP topic matching: ``*`` is one word, ``#`` zero or more words."""
    return _match(pattern.split("."), topic.split("."))


def pattern_to_regex(pattern: str) -> str:
    """The same matching as :func:`topic_matches`, as a regex over the whole topic (for brokers
    such as Pulsar that select topics by regex). Anchor it yourself (``re.fullmatch``)."""
    words: list[str] = []
    for word in check_pattern(pattern).split("."):
        if not (word == "#" and words and words[-1] == "#"):  # "#.#" is "#"
            words.append(word)
    out = ""
    for i, word in enumerate(words):
        if word == "#":
            if i == 0:
                out += r"(?:[^.]+\.)*" if len(words) > 1 else r"[^.]+(?:\.[^.]+)*"
            else:
                out += r"(?:\.[^.]+)*"
            continue
        if i > 0 and not (i == 1 and words[0] == "#"):
            out += r"\."
        out += r"[^.]+" if word == "*" else re.escape(word)
    return out


def _match(p: list[str], t: list[str]) -> bool:
    if not p:
        return not t
    head = p[0]
    if head == "#":
        return any(_match(p[1:], t[i:]) for i in range(len(t) + 1))
    if not t:
        return False
    return (head == "*" or head == t[0]) and _match(p[1:], t[1:])


def settle(exc: BaseException | None, delivery_count: int, max_deliveries: int) -> Disposition:
    """The one place that decides ack / requeue / dead-letter for every backend."""
    if exc is None:
        return Disposition.ACK
    if isinstance(exc, PermanentError) or delivery_count >= max_deliveries:
        return Disposition.DEAD_LETTER
    return Disposition.REQUEUE


async def run_handler(handler: Handler, msg: Message, max_deliveries: int) -> Disposition:
    """Run a handler on one delivery and decide its fate; every backend settles through this."""
    error: Exception | None = None
    try:
        await handler(msg)
    except Exception as exc:  # the handler's failure decides the disposition
        error = exc
    disposition = settle(error, msg.delivery_count, max_deliveries)
    if error is not None:
        _log.warning(
            "handler failed on %s (delivery %d): %s -> %s",
            msg.topic,
            msg.delivery_count,
            error,
            disposition.value,
            extra={"topic": msg.topic},
        )
    return disposition
