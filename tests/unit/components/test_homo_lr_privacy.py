"""What crosses a party boundary in homo-LR with secure aggregation: the arbiter's inbound
traffic holds masked vectors only, from which no single client's update can be recovered."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from silobridge.crypto.secagg import primitives, shamir
from silobridge.federation import codec
from silobridge.ml.fixed_point import FixedPoint
from silobridge.table import Table
from silobridge.testing import FederatedRun, run_component
from silobridge.testing import wire as wire_needles
from silobridge.testing.datasets import horizontal_split

ARBITER = 9
CLIENTS = (1, 2, 3)
SENTINEL_COLUMN = 5
PARAMS = {"seed": 4, "rounds": 2, "early_stop": False, "batch_size": 32}
FP = FixedPoint(24, 2.0**28, len(CLIENTS))  # the component's defaults


def _run(tables: list[Table], secure: bool) -> FederatedRun:
    run = run_component(
        "homo_lr",
        {"guest": [1], "host": [2, 3], "arbiter": [ARBITER]},
        inputs={p: {"data": t} for p, t in zip(CLIENTS, tables, strict=True)},
        params={**PARAMS, "secure_aggregation": secure},
    )
    run.raise_any()
    return run


def _received(run: FederatedRun, name: str, tag: str) -> dict[int, Any]:
    return {s.src: codec.from_bytes(s.payload) for s in run.hub.sent if s.name == name and s.tag == tag}


@pytest.fixture(scope="module")
def tables(cancer: tuple[np.ndarray, np.ndarray]) -> list[Table]:
    X, y = cancer
    tables = horizontal_split(X[:240], y[:240], 3, seed=8, id_prefix="SENTINEL-ID-")
    for t in tables:  # in the range of standardised features, distinctive in bytes
        t.features[:, SENTINEL_COLUMN] = 0.7071067811 + 1.3e-4 * np.arange(t.rows)
    return tables


@pytest.fixture(scope="module")
def runs(tables: list[Table]) -> tuple[FederatedRun, FederatedRun]:
    return _run(tables, secure=True), _run(tables, secure=False)


def test_no_feature_label_id_or_plaintext_update_crosses(
    runs: tuple[FederatedRun, FederatedRun], tables: list[Table]
) -> None:
    secure, plain = runs
    wire = [s.payload for s in secure.hub.sent]
    needles = wire_needles.row_needles(tables, b"SENTINEL-ID-", SENTINEL_COLUMN)
    # The true per-client updates (what the plain run sends), as floats and as fixed point.
    for tag in ("r0", "r1"):
        needles += wire_needles.update_needles(_received(plain, "update", tag).values(), FP)
    assert len(needles) > 300
    assert [n for n in needles for payload in wire if n in payload] == []
    assert {s.name for s in secure.hub.sent if s.dst == ARBITER} == {
        "schema",
        "secagg_keys",
        "secagg_shares",
        "masked_input",
        "secagg_reveal",
    }


def test_the_arbiter_sees_masked_vectors_and_only_their_sum_decodes(
    runs: tuple[FederatedRun, FederatedRun],
) -> None:
    secure, plain = runs
    true = _received(plain, "update", "r0")
    masked = {p: v.view(np.uint64) for p, v in _received(secure, "masked_input", "r0").items()}
    assert set(masked) == set(true) == set(CLIENTS)
    for p in CLIENTS:  # what the arbiter holds from one client is nowhere near that client's update
        assert np.median(np.abs(FP.decode(masked[p]) - true[p])) > 1e6
    # Self-mask seeds, rebuilt as the arbiter does from the survivors' revealed shares.
    roster = next(iter(_received(secure, "secagg_roster", "r0").values()))
    x_of = {int(p): i + 1 for i, p in enumerate(roster["parties"])}
    reveals = _received(secure, "secagg_reveal", "r0")
    self_masks = {}
    for u in CLIENTS:
        shares = {x_of[w]: r["shares"][list(r["parties"]).index(u)] for w, r in reveals.items()}
        self_masks[u] = primitives.expand(shamir.combine(shares, 2, primitives.SEED_BYTES), len(true[u]))
    unmasked = {u: masked[u] - self_masks[u] for u in CLIENTS}
    for u in CLIENTS:  # even without its self-mask, one vector stays hidden by the pairwise masks
        assert np.median(np.abs(FP.decode(unmasked[u]) - true[u])) > 1e6
    for a, b in [(1, 2), (1, 3), (2, 3)]:  # and so does any pair
        assert np.median(np.abs(FP.decode(unmasked[a] + unmasked[b]) - true[a] - true[b])) > 1e6
    total = unmasked[1] + unmasked[2] + unmasked[3]
    assert np.allclose(FP.decode(total), true[1] + true[2] + true[3], atol=3 * FP.precision)
