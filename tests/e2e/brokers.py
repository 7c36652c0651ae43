"""Broker reachability for e2e modules (the root conftest's fixtures are not importable)."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

import pytest

AMQP_URL = os.environ.get("SILOBRIDGE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


def amqp_or_skip() -> str:
    u = urlparse(AMQP_URL)
    try:
        with socket.create_connection((u.hostname or "127.0.0.1", u.port or 5672), timeout=1.0):
            return AMQP_URL
    except OSError:
        pytest.skip(f"RabbitMQ not reachable at {AMQP_URL} (set SILOBRIDGE_TEST_AMQP_URL)")
