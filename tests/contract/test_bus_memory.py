"""The bus contract on the in-process backend (always runs)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from bus_contract import BusContract

from silobridge.bus.base import Bus
from silobridge.bus.memory import MemoryBus


class TestMemoryBus(BusContract):
    quiet_s = 0.05

    @contextlib.asynccontextmanager
    async def bus_factory(self) -> AsyncIterator[Bus]:
        async with MemoryBus("memory://contract") as bus:
            yield bus
