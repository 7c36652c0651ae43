"""The bus contract, written once and run against every backend (like kombu's BasicFunctionality).

A backend's test module subclasses :class:`BusContract` as ``Test<Backend>Bus`` and implements
``bus_factory``; ``quiet_s`` is how long "nothing else arrives" is watched for on that backend.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import hashlib
import os
from collections.abc import AsyncIterator, Callable
from typing import ClassVar

import pytest

from silobridge.bus import rpc
from silobridge.bus.base import MAX_MESSAGE_BYTES, Bus, Message
from silobridge.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    PermanentError,
    RequestTimeout,
    RetryableError,
)


class Inbox:
    """A handler that records what it got; ``fail`` may raise to drive the disposition."""

    def __init__(self, fail: Callable[[Message], None] | None = None, delay_s: float = 0.0) -> None:
        self.messages: list[Message] = []
        self._fail = fail
        self._delay_s = delay_s
        self._changed = asyncio.Event()

    async def __call__(self, msg: Message) -> None:
        self.messages.append(msg)
        self._changed.set()
        if self._delay_s:
            await asyncio.sleep(self._delay_s)
        if self._fail is not None:
            self._fail(msg)

    async def wait_for(self, count: int, timeout: float = 15.0) -> list[Message]:
        async def reached() -> None:
            while len(self.messages) < count:
                self._changed.clear()
                await self._changed.wait()

        try:
            await asyncio.wait_for(reached(), timeout)
        except TimeoutError:
            pytest.fail(f"expected {count} deliveries within {timeout}s, got {len(self.messages)}")
        return self.messages

    @property
    def bodies(self) -> list[bytes]:
        return [m.body for m in self.messages]


async def wait_dead_letters(bus: Bus, group: str, count: int, timeout: float = 15.0) -> list[Message]:
    """Dead-lettering is asynchronous on brokers: poll until ``count`` arrived."""
    found: list[Message] = []
    deadline = asyncio.get_running_loop().time() + timeout
    while len(found) < count:
        found += await bus.dead_letters(group)
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"expected {count} dead letters in {group}, got {len(found)}")
        if len(found) < count:
            await asyncio.sleep(0.05)
    return found


class BusContract(abc.ABC):
    quiet_s: ClassVar[float] = 0.1  # how long "nothing else arrives" is watched for
    orders_across_topics: ClassVar[bool] = True  # one queue per group (memory, RabbitMQ)

    @abc.abstractmethod
    def bus_factory(self) -> contextlib.AbstractAsyncContextManager[Bus]:
        """A started bus with a namespace of its own, cleaned up on exit."""

    @pytest.fixture
    async def bus(self) -> AsyncIterator[Bus]:
        async with self.bus_factory() as bus:
            yield bus

    async def quiet(self) -> None:
        await asyncio.sleep(self.quiet_s)

    # ----- delivery ---------------------------------------------------------------------------
    async def test_round_trip_keeps_bytes_headers_and_id(self, bus: Bus) -> None:
        inbox = Inbox()
        await bus.subscribe("rt.#", inbox, group="rt")
        body = bytes(range(256)) * 4
        headers = {"reply-to": "reply.x.1", "correlation-id": "c-1", "party": "9999"}
        mid = await bus.publish("rt.a", body, message_id="m-explicit-1", headers=headers)
        generated = await bus.publish("rt.b", b"")
        got = await inbox.wait_for(2)
        assert mid == "m-explicit-1"
        by_id = {m.message_id: m for m in got}
        first, second = by_id["m-explicit-1"], by_id[generated]
        assert (first.topic, first.body, dict(first.headers)) == ("rt.a", body, headers)
        assert (first.redelivered, first.delivery_count) == (False, 1)
        assert (second.topic, second.body, dict(second.headers)) == ("rt.b", b"", {})

    async def test_large_message_round_trip(self, bus: Bus) -> None:
        inbox = Inbox()
        await bus.subscribe("big.*", inbox, group="big")
        body = os.urandom(20 * 1024 * 1024)
        await bus.publish("big.tensor", body)
        (got,) = await inbox.wait_for(1, timeout=60)
        assert hashlib.sha256(got.body).digest() == hashlib.sha256(body).digest()

    async def test_star_matches_one_word_and_hash_any_number(self, bus: Bus) -> None:
        star, hash_ = Inbox(), Inbox()
        await bus.subscribe("pm.*.end", star, group="pm-star")
        await bus.subscribe("pm.#", hash_, group="pm-hash")
        for topic in ("pm.a.end", "pm.a.b.end", "pm", "pm.x", "other.a.end"):
            await bus.publish(topic, topic.encode())
        await hash_.wait_for(4)
        await star.wait_for(1)
        await self.quiet()
        assert sorted(m.topic for m in star.messages) == ["pm.a.end"]
        assert sorted(m.topic for m in hash_.messages) == ["pm", "pm.a.b.end", "pm.a.end", "pm.x"]

    async def test_every_group_gets_a_copy(self, bus: Bus) -> None:
        a, b = Inbox(), Inbox()
        await bus.subscribe("copy.x", a, group="copy-a")
        await bus.subscribe("copy.x", b, group="copy-b")
        await bus.publish("copy.x", b"once")
        await a.wait_for(1)
        await b.wait_for(1)
        await self.quiet()
        assert a.bodies == [b"once"] and b.bodies == [b"once"]

    async def test_consumers_in_one_group_share_the_work(self, bus: Bus) -> None:
        one, two = Inbox(delay_s=0.01), Inbox(delay_s=0.01)
        await bus.subscribe("share.x", one, group="share", prefetch=1)
        await bus.subscribe("share.x", two, group="share", prefetch=1)
        sent = [await bus.publish("share.x", str(i).encode()) for i in range(20)]
        deadline = asyncio.get_running_loop().time() + 15
        while len(one.messages) + len(two.messages) < 20 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
        await self.quiet()
        handled = [m.message_id for m in one.messages + two.messages]
        assert sorted(handled) == sorted(sent)  # each message handled exactly once
        assert one.messages and two.messages  # and both consumers took part

    async def test_group_keeps_messages_published_before_any_consumer(self, bus: Bus) -> None:
        await bus.declare_group("early.#", "early")
        for i in range(3):
            await bus.publish("early.x", f"m{i}".encode())
        inbox = Inbox()
        await bus.subscribe("early.#", inbox, group="early")
        await inbox.wait_for(3)
        assert inbox.bodies == [b"m0", b"m1", b"m2"]

    async def test_publish_to_a_topic_nobody_listens_to_succeeds(self, bus: Bus) -> None:
        mid = await bus.publish("nobody.listens", b"x")
        assert mid

    async def test_order_is_kept_for_one_consumer(self, bus: Bus) -> None:
        inbox = Inbox()
        await bus.subscribe("ord.*", inbox, group="ord")
        for i in range(50):
            await bus.publish("ord.t", str(i).encode())
        await inbox.wait_for(50)
        assert [int(b) for b in inbox.bodies] == list(range(50))

    async def test_order_is_kept_across_the_topics_of_a_group(self, bus: Bus) -> None:
        if not self.orders_across_topics:
            pytest.skip(f"{type(self).__name__}: ordering holds per topic only on this backend")
        inbox = Inbox()
        await bus.subscribe("ordx.*", inbox, group="ordx")
        for i in range(30):
            await bus.publish(f"ordx.t{i % 3}", str(i).encode())
        await inbox.wait_for(30)
        assert [int(b) for b in inbox.bodies] == list(range(30))

    # ----- failures ---------------------------------------------------------------------------
    async def test_retryable_failure_is_redelivered_then_handled(self, bus: Bus) -> None:
        def fail_first(msg: Message) -> None:
            if msg.delivery_count == 1:
                raise RetryableError("downstream busy")

        inbox = Inbox(fail_first)
        await bus.subscribe("retry.x", inbox, group="retry")
        mid = await bus.publish("retry.x", b"payload", headers={"k": "v"})
        first, second = await inbox.wait_for(2)
        await self.quiet()
        assert len(inbox.messages) == 2  # handled on the 2nd delivery, then acknowledged
        assert (first.message_id, first.redelivered, first.delivery_count) == (mid, False, 1)
        assert (second.message_id, second.redelivered, second.delivery_count) == (mid, True, 2)
        assert (second.body, dict(second.headers)) == (b"payload", {"k": "v"})
        assert await bus.dead_letters("retry") == []

    async def test_permanent_failure_goes_to_dead_letters_at_once(self, bus: Bus) -> None:
        def reject(msg: Message) -> None:
            raise PermanentError("malformed")

        inbox = Inbox(reject)
        await bus.subscribe("perm.*", inbox, group="perm")
        mid = await bus.publish("perm.x", b"poison", headers={"k": "v"})
        (dead,) = await wait_dead_letters(bus, "perm", 1)
        await self.quiet()
        assert len(inbox.messages) == 1
        assert (dead.message_id, dead.topic, dead.body, dict(dead.headers)) == (
            mid,
            "perm.x",
            b"poison",
            {"k": "v"},
        )
        assert await bus.dead_letters("perm") == []  # reading removes them

    async def test_message_failing_every_time_ends_in_dead_letters(self, bus: Bus) -> None:
        def always(msg: Message) -> None:
            raise ValueError("bug in handler")

        inbox = Inbox(always)
        await bus.subscribe("flaky.x", inbox, group="flaky", max_deliveries=3)
        mid = await bus.publish("flaky.x", b"p")
        (dead,) = await wait_dead_letters(bus, "flaky", 1)
        await self.quiet()
        assert [m.delivery_count for m in inbox.messages] == [1, 2, 3]
        assert dead.message_id == mid

    async def test_cancel_stops_delivery_and_returns_unacked_messages(self, bus: Bus) -> None:
        started, release = asyncio.Event(), asyncio.Event()

        async def stuck(msg: Message) -> None:
            started.set()
            await release.wait()

        sub = await bus.subscribe("cancel.x", stuck, group="cancel")
        await bus.publish("cancel.x", b"first")
        await asyncio.wait_for(started.wait(), 15)
        await sub.cancel()
        await bus.publish("cancel.x", b"second")
        inbox = Inbox()
        await bus.subscribe("cancel.x", inbox, group="cancel")
        first, second = await inbox.wait_for(2)
        assert (first.body, first.redelivered) == (b"first", True)
        assert first.delivery_count >= 2
        assert second.body == b"second"

    async def test_delete_group_drops_pending_messages(self, bus: Bus) -> None:
        await bus.declare_group("del.#", "del")
        for i in range(3):
            await bus.publish("del.x", str(i).encode())
        await bus.delete_group("del")
        with pytest.raises(NotFound):
            await bus.dead_letters("del")
        inbox = Inbox()
        await bus.subscribe("del.#", inbox, group="del")
        await bus.publish("del.x", b"after")
        await inbox.wait_for(1)
        await self.quiet()
        assert inbox.bodies == [b"after"]

    async def test_non_durable_group_vanishes_with_its_consumer(self, bus: Bus) -> None:
        inbox = Inbox()
        sub = await bus.subscribe("tmp.x", inbox, group="tmp", durable=False)
        await bus.publish("tmp.x", b"a")
        await inbox.wait_for(1)
        await sub.cancel()
        await self.quiet()
        with pytest.raises(NotFound):
            await bus.dead_letters("tmp")

    # ----- request/reply ----------------------------------------------------------------------
    async def test_request_reply_and_timeout(self, bus: Bus) -> None:
        async def reverse(body: bytes) -> bytes:
            return body[::-1]

        await rpc.serve(bus, "svc.reverse", reverse, group="svc-reverse")
        client = rpc.RpcClient(bus, "tester")
        try:
            replies = await asyncio.gather(
                *(client.request("svc.reverse", b"abc%d" % i, timeout=15) for i in range(5))
            )
            assert replies == [b"%dcba" % i for i in range(5)]
            with pytest.raises(RequestTimeout):
                await client.request("svc.nobody", b"x", timeout=0.3)
        finally:
            await client.close()

    # ----- bad input --------------------------------------------------------------------------
    async def test_oversized_message_is_refused(self, bus: Bus) -> None:
        inbox = Inbox()
        await bus.subscribe("size.x", inbox, group="size")
        with pytest.raises(PayloadTooLarge, match="exceeds the bus limit"):
            await bus.publish("size.x", bytes(MAX_MESSAGE_BYTES + 1))
        await self.quiet()
        assert inbox.messages == []

    @pytest.mark.parametrize("topic", ["", "a..b", "a b", "a.*", "a.#", "é", "t" * 256])
    async def test_invalid_topic_is_refused(self, bus: Bus, topic: str) -> None:
        with pytest.raises(InvalidInput, match="topic"):
            await bus.publish(topic, b"x")

    async def test_invalid_pattern_and_group_are_refused(self, bus: Bus) -> None:
        with pytest.raises(InvalidInput, match="pattern"):
            await bus.subscribe("a.#x", Inbox(), group="g")
        with pytest.raises(InvalidInput, match="group"):
            await bus.subscribe("a.#", Inbox(), group="bad group")

    async def test_group_cannot_change_its_pattern(self, bus: Bus) -> None:
        await bus.declare_group("one.#", "fixed")
        with pytest.raises(Conflict, match="already bound"):
            await bus.declare_group("two.#", "fixed")
