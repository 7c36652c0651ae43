"""Pick the bus backend from its URL; broker clients are imported only when asked for."""

from __future__ import annotations

from silobridge.bus.base import Bus
from silobridge.errors import InvalidInput

_shared_memory: dict[str, Bus] = {}


def create_bus(url: str, *, prefix: str = "silobridge") -> Bus:
    """``memory://<name>`` (same name -> same in-process broker), ``amqp://``, ``pulsar://``.

    ``prefix`` namespaces exchanges/queues/topics so that several parties can share one broker.
    """
    if url.startswith("memory://"):
        from silobridge.bus.memory import MemoryBus

        key = f"{url}|{prefix}"
        if key not in _shared_memory:
            _shared_memory[key] = MemoryBus(url)
        return _shared_memory[key]
    if url.startswith(("amqp://", "amqps://")):
        from silobridge.bus.rabbitmq import RabbitMQBus

        return RabbitMQBus(url, prefix=prefix)
    if url.startswith(("pulsar://", "pulsar+ssl://")):
        from silobridge.bus.pulsar import PulsarBus

        return PulsarBus(url, prefix=prefix)
    raise InvalidInput(
        f"unsupported bus URL scheme in {url.split('://')[0]!r}: use memory://, amqp:// or pulsar://"
    )


def forget_memory_buses() -> None:
    """Tests: drop the shared in-process brokers."""
    _shared_memory.clear()
