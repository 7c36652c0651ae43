"""Namespaces of their own for the contract tests' buses (the brokers are in tests/brokers.py)."""

from __future__ import annotations

import uuid


def unique_prefix(kind: str) -> str:
    """A namespace of its own per test, so runs (and engineers) never see each other's queues."""
    return f"t{kind}{uuid.uuid4().hex[:10]}"
