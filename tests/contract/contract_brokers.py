"""Broker addresses for the contract tests, and the reasons to skip when a broker is absent."""

from __future__ import annotations

import os
import socket
import uuid
from urllib.parse import urlsplit

AMQP_URL = os.environ.get("SILOBRIDGE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
PULSAR_URL = os.environ.get("SILOBRIDGE_TEST_PULSAR_URL", "")


def unreachable_reason(url: str, default_port: int) -> str | None:
    """None when something accepts TCP connections at the URL's host:port, else why not."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or default_port
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return None
    except OSError as exc:
        return f"no broker at {host}:{port} ({exc.strerror or exc}); set SILOBRIDGE_TEST_AMQP_URL"


def unique_prefix(kind: str) -> str:
    """A namespace of its own per test, so runs (and engineers) never see each other's queues."""
    return f"t{kind}{uuid.uuid4().hex[:10]}"
