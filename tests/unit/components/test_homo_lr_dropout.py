"""Secure aggregation with clients that drop out after sharing their keys."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from silobridge.components.homo_lr import HomoLRParams, arbiter, guest
from silobridge.components.registry import ComponentDef, TaskResult
from silobridge.errors import DisclosureRefused
from silobridge.federation.context import Federation, TaskContext
from silobridge.ml.protocol import PeerAborted, guarded
from silobridge.table import Table
from silobridge.testing import FederatedRun, run_component
from silobridge.testing.datasets import horizontal_split

ARBITER = 9
# A silent client counts as dropped after this long; live clients answer within milliseconds.
PARAMS = {"seed": 3, "rounds": 2, "early_stop": False, "batch_size": 32, "dropout_timeout_s": 3.0}


class _Killed(Exception):
    pass


class _DiesBeforeMasking(Federation):
    """The client's process dies right after it sent its key shares: nothing more leaves it."""

    def __init__(self, inner: Federation) -> None:
        self.inner = inner

    def send(self, dst_party: int, dst_role: str, name: str, tag: str, payload: bytes) -> None:
        if name == "masked_input":
            raise _Killed
        self.inner.send(dst_party, dst_role, name, tag, payload)

    def recv(self, src_party: int, name: str, tag: str, timeout: float) -> bytes:
        return self.inner.recv(src_party, name, tag, timeout)


def _killable(ctx: TaskContext) -> TaskResult:
    ctx.federation = _DiesBeforeMasking(ctx.federation)
    try:
        return guest.train(ctx)
    except _Killed:  # a killed process sends no abort either
        return TaskResult(summary={"killed": 1.0})


def _run(tables: list[Table], killed: set[int], **params: Any) -> FederatedRun:
    ids = list(range(1, len(tables) + 1))
    client = guarded(guest.train)

    def role(ctx: TaskContext) -> TaskResult:
        return _killable(ctx) if ctx.party_id in killed else client(ctx)

    defn = ComponentDef(
        name="homo_lr",
        roles={"guest": role, "host": role, "arbiter": guarded(arbiter.train)},
        params=HomoLRParams,
    )
    return run_component(
        defn,
        {"guest": ids[:1], "host": ids[1:], "arbiter": [ARBITER]},
        inputs={p: {"data": t} for p, t in zip(ids, tables, strict=True)},
        params={**PARAMS, **params},
        recv_timeout_s=30,
    )


@pytest.fixture(scope="module")
def four(cancer: tuple[np.ndarray, np.ndarray]) -> list[Table]:
    return horizontal_split(*cancer, 4, seed=5)


def test_a_client_killed_after_sharing_keys_leaves_fedavg_over_the_other_three(four: list[Table]) -> None:
    dropped = _run(four, killed={4})
    dropped.raise_any()
    assert dropped.result(4).summary == {"killed": 1.0}
    clients = [v for name, v, _ in dropped.metrics[ARBITER] if name == "clients"]
    assert clients == [3.0, 3.0]  # round 0 completed with 3, round 1 ran with those 3
    three = _run(four[:3], killed=set())  # FedAvg over the same three clients, no dropout
    three.raise_any()
    w_dropped = dropped.result(ARBITER).model["weights"]  # type: ignore[index]
    w_three = three.result(ARBITER).model["weights"]  # type: ignore[index]
    assert np.max(np.abs(w_dropped - w_three)) < 1e-5
    assert np.max(np.abs(w_three)) > 0.1
    # Party 4 really had shared its keys in round 0, and the survivors revealed shares for it.
    sent = {(s.src, s.name, s.tag) for s in dropped.hub.sent}
    assert (4, "secagg_shares", "r0") in sent and (4, "masked_input", "r0") not in sent
    assert {(p, "secagg_reveal", "r0") for p in (1, 2, 3)} <= sent


def test_below_the_threshold_the_round_is_refused_and_no_sum_is_revealed(four: list[Table]) -> None:
    run = _run(four, killed={3, 4}, threshold=3)
    err = run.errors[ARBITER]
    assert isinstance(err, DisclosureRefused)
    assert "2 of 4 clients remain, below the threshold of 3; no sum was revealed" in str(err)
    for p in (1, 2):
        assert isinstance(run.errors[p], PeerAborted)
        assert "below the threshold of 3" in str(run.errors[p])
    names = {s.name for s in run.hub.sent}
    assert "masked_input" in names
    assert not names & {"secagg_survivors", "secagg_reveal", "global"}  # no share revealed, no model
