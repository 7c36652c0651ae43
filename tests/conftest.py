"""Fixtures shared by every test layer: free ports, broker/DB URLs from settings with local defaults."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

AMQP_URL = os.environ.get("SILOBRIDGE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
POSTGRES_URL = os.environ.get("SILOBRIDGE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def reachable(url: str, default_port: int) -> bool:
    from urllib.parse import urlparse

    u = urlparse(url)
    try:
        with socket.create_connection((u.hostname or "127.0.0.1", u.port or default_port), timeout=1.0):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def amqp_url() -> str:
    if not reachable(AMQP_URL, 5672):
        pytest.skip(f"RabbitMQ not reachable at {AMQP_URL} (set SILOBRIDGE_TEST_AMQP_URL)")
    return AMQP_URL


@pytest.fixture(autouse=True)
def _fresh_memory_buses() -> Iterator[None]:
    """Shared in-process brokers (``memory://name``) never leak from one test into another."""
    from silobridge.bus.factory import forget_memory_buses

    forget_memory_buses()
    yield
    forget_memory_buses()
