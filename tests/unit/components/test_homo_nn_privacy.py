"""What crosses a party boundary in homo-NN with secure aggregation: only sizes and digests at
setup, the guest's random initial parameters, and masked vectors; no image, label, id or
plaintext parameter update of any client."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_digits

from silobridge.federation import codec
from silobridge.ml.fixed_point import FixedPoint
from silobridge.table import Table
from silobridge.testing import FederatedRun, run_component
from silobridge.testing import wire as wire_needles
from silobridge.testing.datasets import horizontal_split

pytestmark = pytest.mark.torch

ARBITER = 9
CLIENTS = (1, 2, 3)
SENTINEL_COLUMN = 20
PARAMS = {
    "seed": 4,
    "rounds": 2,
    "early_stop": False,
    "classes": 10,
    "model": {"kind": "mlp", "hidden": [8]},
}
FP = FixedPoint(24, 2.0**28, len(CLIENTS))  # the component's defaults
ARBITER_INBOUND = {"schema", "init", "secagg_keys", "secagg_shares", "masked_input", "secagg_reveal"}


def _run(tables: list[Table], secure: bool) -> FederatedRun:
    run = run_component(
        "homo_nn",
        {"guest": [1], "host": [2, 3], "arbiter": [ARBITER]},
        inputs={p: {"data": t} for p, t in zip(CLIENTS, tables, strict=True)},
        params={**PARAMS, "secure_aggregation": secure},
        recv_timeout_s=60,
    )
    run.raise_any()
    return run


def _received(run: FederatedRun, name: str, tag: str) -> dict[int, Any]:
    return {s.src: codec.from_bytes(s.payload) for s in run.hub.sent if s.name == name and s.tag == tag}


@pytest.fixture(scope="module")
def tables() -> list[Table]:
    data = load_digits()
    X, y = data.data[:300] / 16.0, data.target[:300].astype(np.float64)
    tables = horizontal_split(X, y, 3, seed=8, id_prefix="SENTINEL-ID-")
    for t in tables:  # distinctive in bytes, in the pixels' range
        t.features[:, SENTINEL_COLUMN] = 0.7071067811 + 1.3e-4 * np.arange(t.rows)
    return tables


def test_no_pixel_label_id_or_plaintext_update_crosses(tables: list[Table]) -> None:
    secure, plain = _run(tables, secure=True), _run(tables, secure=False)
    assert {s.name for s in secure.hub.sent if s.dst == ARBITER} == ARBITER_INBOUND
    wire = [s.payload for s in secure.hub.sent]
    needles = wire_needles.row_needles(tables, b"SENTINEL-ID-", SENTINEL_COLUMN)
    for tag in ("r0", "r1"):  # the true per-client updates, as floats and as fixed point
        needles += wire_needles.update_needles(_received(plain, "update", tag).values(), FP)
    assert len(needles) > 300
    assert [n for n in needles for payload in wire if n in payload] == []
    # only the sum decodes: each masked vector is far from its client's true update
    for tag in ("r0", "r1"):
        masked = _received(secure, "masked_input", tag)
        updates = _received(plain, "update", tag)
        for p, m in masked.items():
            decoded = FP.decode(m.view(np.uint64))
            assert np.max(np.abs(decoded - updates[p])) > 1e3
