"""Fixtures every unit test directory shares."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from silobridge.bus.memory import MemoryBus


@pytest.fixture
async def bus() -> AsyncIterator[MemoryBus]:
    """A started in-memory bus, closed after the test."""
    b = MemoryBus()
    await b.start()
    yield b
    await b.close()
