"""The bus contract on RabbitMQ, plus what only a real broker can show (reconnects, layout)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
from brokers import AMQP_URL
from bus_contract import BusContract, Inbox
from contract_brokers import unique_prefix

from silobridge.bus.base import Bus
from silobridge.bus.factory import create_bus
from silobridge.bus.rabbitmq import RabbitMQBus
from silobridge.errors import BusUnavailable, Conflict

pytestmark = [
    pytest.mark.rabbitmq,
]


@contextlib.asynccontextmanager
async def rabbit_bus(prefix: str | None = None) -> AsyncIterator[RabbitMQBus]:
    """A bus in a fresh namespace; on exit deletes every group it declared and its exchanges."""
    bus = RabbitMQBus(AMQP_URL, prefix=prefix or unique_prefix("c"))
    await bus.start()
    try:
        yield bus
    finally:
        await bus.delete_namespace()
        await bus.close()


class TestRabbitMQBus(BusContract):
    quiet_s = 0.4

    @contextlib.asynccontextmanager
    async def bus_factory(self) -> AsyncIterator[Bus]:
        async with rabbit_bus() as bus:
            yield bus


async def test_factory_picks_rabbitmq_for_amqp_urls() -> None:
    bus = create_bus(AMQP_URL, prefix=unique_prefix("f"))
    assert isinstance(bus, RabbitMQBus)


async def test_unreachable_broker_raises_bus_unavailable() -> None:
    bus = RabbitMQBus("amqp://guest:secret@127.0.0.1:1/", prefix="nowhere", connect_timeout=2)
    with pytest.raises(BusUnavailable, match="cannot connect") as info:
        await bus.start()
    assert "secret" not in str(info.value)


async def test_a_second_process_sees_the_same_group() -> None:
    """Two buses = two connections (two services): a copy per group, shared within a group."""
    async with rabbit_bus() as producer:
        consumer = RabbitMQBus(AMQP_URL, prefix=producer.prefix)
        await consumer.start()
        try:
            inbox = Inbox()
            await consumer.subscribe("x.#", inbox, group="g")
            await producer.publish("x.y", b"hello")
            (got,) = await inbox.wait_for(1)
            assert got.body == b"hello"
        finally:
            await consumer.close()
        await producer.declare_group("x.#", "g")  # the group outlives its consumer


async def test_group_redeclared_with_other_durability_is_a_conflict() -> None:
    async with rabbit_bus() as bus:
        await bus.declare_group("d.#", "dur")
        other = RabbitMQBus(AMQP_URL, prefix=bus.prefix)
        try:
            with pytest.raises(Conflict, match="other settings"):
                await other.declare_group("d.#", "dur", durable=False)
        finally:
            await other.close()


class TcpProxy:
    """Forwards a local port to the broker; ``drop()`` cuts every open connection like a network
    failure would, while new connections are still accepted (the broker "comes back")."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.drop()
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self._target)
        self._writers |= {writer, up_writer}
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()
            self._writers.discard(writer)

    def drop(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()


async def test_consumer_and_publisher_survive_a_dropped_connection() -> None:
    target = urlsplit(AMQP_URL)
    async with TcpProxy(target.hostname or "127.0.0.1", target.port or 5672) as proxy:
        via_proxy = target._replace(
            netloc=f"{target.username}:{target.password}@127.0.0.1:{proxy.port}"
        ).geturl()
        bus = RabbitMQBus(via_proxy, prefix=unique_prefix("r"), reconnect_interval=0.2)
        inbox = Inbox()
        await bus.subscribe("rc.#", inbox, group="rc")
        await bus.publish("rc.a", b"before")
        await inbox.wait_for(1)
        await asyncio.sleep(0.3)  # let the ack reach the broker (else "before" comes again: at-least-once)
        proxy.drop()
        # The publish waits for the reconnect; the consumer is re-attached by then or soon after.
        await bus.publish("rc.a", b"after")
        try:
            await inbox.wait_for(2, timeout=30)
            await asyncio.sleep(0.3)
            assert inbox.bodies == [b"before", b"after"]
            assert not inbox.messages[1].redelivered
        finally:
            await bus.delete_namespace()
            await bus.close()
