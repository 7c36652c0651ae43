"""Fixtures of the flow tests; the fakes themselves live in ``flow_support``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from flow_support import Cluster


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    c = Cluster(tmp_path)
    yield c
    await c.close()
