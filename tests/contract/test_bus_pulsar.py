"""The bus contract on Apache Pulsar; runs only where a broker is configured.

The broker needs the namespace policies listed in :mod:`silobridge.bus.pulsar` (deduplication
off, retention, maxMessageSize >= 64 MiB for the 20 MB case).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest
from brokers import PULSAR_URL
from bus_contract import BusContract
from contract_brokers import unique_prefix

from silobridge.bus.base import Bus
from silobridge.bus.pulsar import PulsarBus

pytestmark = pytest.mark.pulsar


class TestPulsarBus(BusContract):
    quiet_s = 1.0

    @contextlib.asynccontextmanager
    async def bus_factory(self) -> AsyncIterator[Bus]:
        bus = PulsarBus(PULSAR_URL, prefix=unique_prefix("p"))
        await bus.start()
        try:
            yield bus
        finally:
            for group in list(bus._groups):
                await bus.delete_group(group)
            await bus.close()
