"""A failing party stops its peers at once, with its public reason, instead of a receive timeout."""

from __future__ import annotations

import time

import numpy as np

from silobridge.components.registry import ComponentDef, TaskResult
from silobridge.crypto import generate_keypair
from silobridge.errors import CryptoError
from silobridge.federation.context import TaskContext
from silobridge.ml.protocol import PeerAborted, guarded, recv_checked
from silobridge.testing import run_component


def _guest_waits(ctx: TaskContext) -> TaskResult:
    recv_checked(ctx, "host", "never_sent", "t0")
    return TaskResult()


def _host_fails(ctx: TaskContext) -> TaskResult:
    raise CryptoError("secret detail", public_message="mismatched key sizes at host")


def test_peer_failure_reaches_a_waiting_party_quickly() -> None:
    comp = ComponentDef("abort_demo", roles={"guest": guarded(_guest_waits), "host": guarded(_host_fails)})
    start = time.perf_counter()
    run = run_component(comp, {"guest": [1], "host": [2]}, recv_timeout_s=60)
    assert time.perf_counter() - start < 5
    assert isinstance(run.errors[1], PeerAborted)
    assert "party 2 (host) aborted: mismatched key sizes at host" in str(run.errors[1])
    assert "secret detail" not in str(run.errors[1])


def _host_own_key(ctx: TaskContext) -> TaskResult:
    pk, _ = generate_keypair(1024)
    ctx.send("guest", "ciphertexts", pk.encrypt_vector(np.arange(3.0)), tag="t0")
    recv_checked(ctx, "guest", "reply", "t0")
    return TaskResult()


def test_ciphertexts_under_an_untrusted_key_fail_at_both_parties() -> None:
    def guest(ctx: TaskContext) -> TaskResult:
        recv_checked(ctx, "host", "ciphertexts", "t0")
        return TaskResult()

    comp = ComponentDef("rogue_key", roles={"guest": guarded(guest), "host": guarded(_host_own_key)})
    run = run_component(comp, {"guest": [1], "host": [2]})
    assert isinstance(run.errors[1], CryptoError) and "does not trust" in str(run.errors[1])
    assert "does not trust" in str(run.errors[2])
