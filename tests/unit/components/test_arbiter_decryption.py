"""The arbiter decrypts only what hetero-LR defines; a host cannot use it as a decryption oracle."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pytest

from silobridge.components import registry
from silobridge.components.hetero_lr import host as lr_host
from silobridge.components.hetero_lr.arbiter import DecryptionGuard
from silobridge.components.registry import ComponentDef
from silobridge.crypto import generate_keypair
from silobridge.errors import DisclosureRefused, public_message
from silobridge.federation.context import TaskContext
from silobridge.federation.local import LocalHub
from silobridge.ml.protocol import guarded
from silobridge.table import Table
from silobridge.testing import FederatedRun, run_component
from silobridge.testing.datasets import vertical_split

ROWS, BATCH = 120, 40


def forwarding_host(ctx: TaskContext) -> Any:
    """A malicious host: sends the guest's encrypted residual to the arbiter as its masked gradient."""
    recv_one, send = ctx._recv_one, ctx.send
    residuals: dict[str, Any] = {}

    def recording(party: int, name: str, tag: str | None, timeout: float | None) -> Any:
        value = recv_one(party, name, tag, timeout)
        if name == "residual":
            residuals[str(tag)] = value
        return value

    def forwarding(to: str | int, name: str, value: Any, *, tag: str | None = None) -> None:
        if name == "masked_gradient":
            value = residuals[str(tag)].obfuscate()  # at epoch 0 the residual is -0.5 * y
        send(to, name, value, tag=tag)

    ctx._recv_one = recording  # type: ignore[method-assign]
    ctx.send = forwarding  # type: ignore[method-assign]
    return lr_host.train(ctx)


def _run(split: tuple[Table, Table], host: Any) -> FederatedRun:
    real = registry.get("hetero_lr")
    component = ComponentDef(name=real.name, roles={**real.roles, "host": guarded(host)}, params=real.params)
    guest, host_table = split
    return run_component(
        component,
        {"guest": [1], "host": [2], "arbiter": [9]},
        inputs={1: {"data": guest}, 2: {"data": host_table}},
        params={"key_bits": 1024, "epochs": 1, "batch_size": BATCH, "seed": 3},
    )


@pytest.fixture(scope="module")
def split(cancer: tuple[np.ndarray, np.ndarray]) -> tuple[Table, Table]:
    return vertical_split(cancer[0][:ROWS], cancer[1][:ROWS], 10)


def test_a_forwarded_residual_is_refused_and_audited(
    split: tuple[Table, Table], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="silobridge.audit"):
        run = _run(split, forwarding_host)
    refusal = run.errors[9]
    assert isinstance(refusal, DisclosureRefused)
    assert str(refusal) == (
        "arbiter party 9 refused to decrypt masked_gradient from party 2 (tag e0b0): "
        f"{BATCH} values, but the protocol defines 20 values for it"
    )
    # Nothing decrypted went back to the host, and every party fails naming the refusal.
    assert not [s for s in run.hub.sent if s.src == 9 and s.dst == 2 and s.name == "gradient"]
    for party in (1, 2):
        assert "arbiter party 9 refused to decrypt masked_gradient from party 2" in public_message(
            run.errors[party]
        )
    audits = [
        r
        for r in caplog.records
        if r.name == "silobridge.audit" and r.__dict__.get("event") == "decryption_refused"
    ]
    assert len(audits) == 1 and audits[0].__dict__["src_party"] == 2


def test_an_honest_run_declares_and_decrypts_exactly_the_protocols_shapes(split: tuple[Table, Table]) -> None:
    run = _run(split, lr_host.train)
    run.raise_any()
    declared = {s.src: s for s in run.hub.sent if s.name == "features" and s.dst == 9}
    assert set(declared) == {1, 2}
    gradients = [s for s in run.hub.sent if s.src == 9 and s.name == "gradient"]
    assert len(gradients) == 2 * (ROWS // BATCH)  # one per data party per batch, never more


def _guard() -> tuple[DecryptionGuard, Any]:
    pk, _ = generate_keypair(512, allow_insecure_test_size=True)
    ctx = TaskContext(
        job_id="j",
        task_name="hetero_lr",
        party_id=9,
        role="arbiter",
        parties={"guest": [1], "host": [2], "arbiter": [9]},
        federation=LocalHub().federation(9),
        compute=None,  # type: ignore[arg-type]
    )
    return DecryptionGuard(ctx, {(1, "masked_gradient"): 11, (2, "masked_gradient"): 20}), pk


def test_a_second_decryption_for_the_same_batch_is_refused() -> None:
    guard, pk = _guard()
    vec = pk.encrypt_vector(np.zeros(20))
    guard.admit(2, "masked_gradient", "e0b0", vec)
    with pytest.raises(DisclosureRefused, match="already decrypted once for this batch"):
        guard.admit(2, "masked_gradient", "e0b0", vec)
    guard.admit(2, "masked_gradient", "e0b1", vec)  # the next batch is a new tag


def test_undeclared_vectors_and_lengths_are_refused() -> None:
    guard, pk = _guard()
    with pytest.raises(DisclosureRefused, match="decrypts no such vector"):
        guard.admit(2, "loss", "e0b0", pk.encrypt_vector(np.zeros(1)))
    with pytest.raises(DisclosureRefused, match="11 values, but the protocol defines 20"):
        guard.admit(2, "masked_gradient", "e0b0", pk.encrypt_vector(np.zeros(11)))
