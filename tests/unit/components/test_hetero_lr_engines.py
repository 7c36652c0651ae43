"""hetero_lr with the python-paillier baseline engine trains the same model as the fast engine."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from silobridge.federation.v1 import values_pb2 as pb
from silobridge.table import Table
from silobridge.testing import FederatedRun, run_component
from silobridge.testing.datasets import vertical_split

ROWS = 120
# 52 fraction bits: the fast engine's products keep (about) the full float precision phe keeps, so
# the two engines must agree to 1e-6 (the default 16 bits differ from phe by about that much).
PARAMS = {
    "key_bits": 1024,
    "seed": 3,
    "epochs": 2,
    "batch_size": 60,
    "learning_rate": 0.2,
    "fixed_point_bits": 52,
}
PARTIES = {"guest": [1], "host": [2], "arbiter": [9]}


@pytest.fixture(scope="module")
def split(cancer: tuple[np.ndarray, np.ndarray]) -> tuple[Table, Table]:
    X, y = cancer
    return vertical_split(X[:ROWS], y[:ROWS], 10)


def _train(split: tuple[Table, Table], **party_engines: str) -> FederatedRun:
    guest, host = split
    ids = {"guest": 1, "host": 2, "arbiter": 9}
    run = run_component(
        "hetero_lr",
        PARTIES,
        inputs={1: {"data": guest}, 2: {"data": host}},
        params=PARAMS,
        party_params={ids[role]: {"engine": e} for role, e in party_engines.items()},
        workers=2,
    )
    run.raise_any()
    return run


def _auc(run: FederatedRun) -> float:
    pred = run.result(1).tables["predictions"]
    return float(roc_auc_score(pred.label, pred.features[:, pred.feature_names.index("score")]))


@pytest.fixture(scope="module")
def fast(split: tuple[Table, Table]) -> FederatedRun:
    return _train(split, guest="fast", host="fast", arbiter="fast")


@pytest.fixture(scope="module")
def phe(split: tuple[Table, Table]) -> FederatedRun:
    return _train(split, guest="phe", host="phe", arbiter="phe")


def _models(run: FederatedRun) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    g, h = run.result(1).model, run.result(2).model
    assert g is not None and h is not None
    return g["weights"], g["intercept"], h["weights"]


def test_phe_engine_trains_the_same_weights_and_auc(fast: FederatedRun, phe: FederatedRun) -> None:
    for a, b in zip(_models(fast), _models(phe), strict=True):
        assert np.allclose(a, b, rtol=1e-6, atol=1e-9), (a, b)
    assert abs(np.abs(_models(fast)[2]).sum()) > 0.01  # the model did learn something
    assert _auc(phe) == pytest.approx(_auc(fast), abs=1e-9)
    losses = {e: [v for n, v, _ in r.metrics[9] if n == "loss"] for e, r in (("fast", fast), ("phe", phe))}
    assert len(losses["phe"]) == 2 and np.allclose(losses["phe"], losses["fast"], rtol=1e-9)


def test_engines_interoperate_party_by_party(
    split: tuple[Table, Table], fast: FederatedRun, phe: FederatedRun
) -> None:
    mixed = _train(split, guest="phe", host="fast", arbiter="phe")
    for a, b in zip(_models(mixed), _models(fast), strict=True):
        assert np.allclose(a, b, rtol=1e-6, atol=1e-9)


def _crypto(run: FederatedRun) -> tuple[list[int], list[pb.PaillierVector]]:
    keys, vectors = [], []
    for s in run.hub.sent:
        msg = pb.Value()
        msg.ParseFromString(s.payload)
        stack = [msg]
        while stack:
            v = stack.pop()
            kind = v.WhichOneof("kind")
            if kind == "map":
                stack.extend(v.map.items.values())
            elif kind == "paillier_public_key":
                keys.append(int.from_bytes(v.paillier_public_key.n, "big"))
            elif kind == "paillier_vector":
                vectors.append(v.paillier_vector)
    return keys, vectors


def test_each_engine_shows_on_the_wire(fast: FederatedRun, phe: FederatedRun) -> None:
    """phe picks an exponent per value, the fast engine one per vector: the wire tells them apart."""
    per_element = {
        name: [len(pv.exponents) > 1 for pv in _crypto(run)[1]]
        for name, run in (("fast", fast), ("phe", phe))
    }
    assert not any(per_element["fast"])
    assert any(per_element["phe"])


def test_phe_engine_sends_only_fresh_ciphertexts(phe: FederatedRun) -> None:
    keys, vectors = _crypto(phe)
    cts = [
        int.from_bytes(pv.data[i * pv.width : (i + 1) * pv.width], "big")
        for pv in vectors
        for i in range(pv.count)
    ]
    assert len(keys) == 2 and len(set(keys)) == 1
    n = keys[0]
    assert len(cts) > 4 * ROWS
    assert len(set(cts)) == len(cts)
    assert not any((c - 1) % n == 0 for c in cts)  # no unrandomised 1 + m*n
