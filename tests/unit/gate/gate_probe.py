"""Run only by test_broker_gate.py (not collected by name): one test per broker marker."""

import pytest


@pytest.mark.pulsar
def test_needs_pulsar() -> None:
    pass


@pytest.mark.rabbitmq
def test_needs_rabbitmq() -> None:
    pass
