from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from parties import InProcessParties


@pytest.fixture(scope="module")
def parties(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessParties]:
    p = InProcessParties(Path(tmp_path_factory.mktemp("parties")))
    try:
        p.start()
        yield p
    finally:
        p.stop()
