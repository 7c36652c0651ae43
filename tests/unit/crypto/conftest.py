"""Shared keys for the Paillier tests: generated once per session (small keys keep tests fast)."""

from __future__ import annotations

import pytest

from silobridge.crypto import PrivateKey, PublicKey, generate_keypair


@pytest.fixture(scope="session")
def keypair() -> tuple[PublicKey, PrivateKey]:
    return generate_keypair(1024)


@pytest.fixture(scope="session")
def small_keypair() -> tuple[PublicKey, PrivateKey]:
    """512-bit: only for property tests that run many examples; never allowed outside tests."""
    return generate_keypair(512, allow_insecure_test_size=True)


@pytest.fixture(scope="session")
def other_keypair() -> tuple[PublicKey, PrivateKey]:
    return generate_keypair(512, allow_insecure_test_size=True)
