"""Fixtures of the compute-plane integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from compute_plane_support import Party


@pytest.fixture
async def party(tmp_path: Path) -> AsyncIterator[Party]:
    p = Party(9999, tmp_path / "p9999", ("node-a", "node-b"))
    await p.start()
    yield p
    await p.stop()
