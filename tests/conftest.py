"""Fixtures shared by every test layer; brokers gate the tests that carry their marker (brokers.py)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from brokers import AMQP_URL, BROKERS, first_reason, required


def pytest_report_header(config: pytest.Config) -> list[str]:
    need = required()
    lines = []
    for name, broker in BROKERS.items():
        why = first_reason(name)
        state = "up" if why is None else "DOWN"
        lines.append(f"{name}: {state} at {broker.url}{' (required)' if name in need else ''}")
    return lines


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("torch") is not None:
        _need_torch()
    need = required()
    for name in BROKERS:
        if item.get_closest_marker(name) is None:
            continue
        why = first_reason(name)
        if why is None:
            continue
        if name in need:
            pytest.fail(f"{name} is required (SILOBRIDGE_REQUIRE_BROKERS) but {why}", pytrace=False)
        pytest.skip(f"{name} unreachable: {why}")


def _need_torch() -> None:
    """PyTorch is an optional extra: skipped with the fix, or a failure where CI requires it."""
    import importlib.util
    import os

    if importlib.util.find_spec("torch") is not None:
        return
    why = "PyTorch is not installed: make install-torch (pip install -e '.[torch]')"
    if os.environ.get("SILOBRIDGE_REQUIRE_TORCH") == "1":
        pytest.fail(f"torch is required (SILOBRIDGE_REQUIRE_TORCH=1) but {why}", pytrace=False)
    pytest.skip(why)


@pytest.fixture(scope="session")
def amqp_url() -> str:
    return AMQP_URL


@pytest.fixture(autouse=True)
def _fresh_memory_buses() -> Iterator[None]:
    """Shared in-process brokers (``memory://name``) never leak from one test into another."""
    from silobridge.bus.factory import forget_memory_buses

    forget_memory_buses()
    yield
    forget_memory_buses()


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """A service's ``main()`` configures the root logger for a process; put the test runner's back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
