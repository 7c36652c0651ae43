"""hetero_sshe_lr: parity with centralised LR, exact shares, a forging host learns nothing, one host only."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from silobridge.components.hetero_sshe_lr import host as host_mod
from silobridge.crypto import EncryptedVector
from silobridge.errors import IntegrityError
from silobridge.federation.v1 import values_pb2 as pb
from silobridge.ml.protocol import recv_checked
from silobridge.table import Table
from silobridge.testing import FederatedRun, run_component
from silobridge.testing.datasets import vertical_split

pytestmark = [pytest.mark.slow]

PARTIES = {"guest": [1], "host": [2]}
PARAMS = {"key_bits": 1024, "epochs": 10, "batch_size": -1, "learning_rate": 0.5, "alpha": 0.01, "seed": 1}
GUEST_PLAIN = {
    "plan": "int_value",
    "columns": "int_value",
}  # all else the guest sends is a key or ciphertexts


def _train(guest: Table, host: Table, **params: Any) -> FederatedRun:
    return run_component(
        "hetero_sshe_lr",
        PARTIES,
        inputs={1: {"data": guest}, 2: {"data": host}},
        params={**PARAMS, **params},
        workers=2,
    )


@pytest.fixture(scope="module")
def trained(cancer: tuple[np.ndarray, np.ndarray]) -> tuple[FederatedRun, Table, Table]:
    guest, host = vertical_split(*cancer, 10)
    run = _train(guest, host)
    run.raise_any()
    return run, guest, host


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_train_auc_within_0005_of_centralised_sklearn(
    trained: tuple[FederatedRun, Table, Table], cancer: tuple[np.ndarray, np.ndarray]
) -> None:
    run, _, _ = trained
    X, y = cancer
    central = LogisticRegression(
        C=1.0 / (PARAMS["alpha"] * len(y)), max_iter=PARAMS["epochs"]
    )  # same L2, epochs
    baseline = roc_auc_score(y, central.fit(X, y).decision_function(X))
    federated = run.result(1).summary["train_auc"]
    assert abs(federated - baseline) <= 0.005, (federated, baseline)


def test_shares_add_up_to_plain_gradient_descent(
    trained: tuple[FederatedRun, Table, Table], cancer: tuple[np.ndarray, np.ndarray]
) -> None:
    """The secret-shared protocol computes exactly the plaintext Taylor-LR gradient descent."""
    run, _, _ = trained
    X, y = cancer
    Xi = np.hstack([X[:, :10], X[:, 10:], np.ones((len(y), 1))])
    w = np.zeros(Xi.shape[1])
    for _ in range(PARAMS["epochs"]):
        g = Xi.T @ (0.25 * (Xi @ w) + 0.5 - y) / len(y)
        g[:-1] += PARAMS["alpha"] * w[:-1]
        w -= PARAMS["learning_rate"] * g
    guest_model, host_model = run.result(1).model, run.result(2).model
    assert guest_model is not None and host_model is not None
    assert np.allclose(guest_model["weights"], w[:10], atol=1e-6)
    assert float(guest_model["intercept"][0]) == pytest.approx(w[-1], abs=1e-6)
    host_w = guest_model["host_share"] + host_model["weight_share"]
    assert np.allclose(host_w, w[10:-1], atol=1e-6)
    # A share alone is noise, not the weights. Each element is a sum of uniform masks, so one can
    # land near zero by chance (about 4% of runs had one under 1e3); the vector's length cannot.
    share = np.asarray(host_model["weight_share"])
    assert np.linalg.norm(share) > 1e3 * max(1.0, float(np.linalg.norm(w)))


def _view(run: FederatedRun, src: int, dst: int) -> list[tuple[str, str, str, int]]:
    """What ``dst`` received from ``src``: (name, tag, kind, length) of every value."""
    out = []
    for s in run.hub.sent:
        if s.src != src or s.dst != dst or s.name == "abort":
            continue
        root = pb.Value()
        root.ParseFromString(s.payload)
        stack = [root]
        while stack:
            v = stack.pop()
            kind = v.WhichOneof("kind")
            if kind == "map":
                stack.extend(v.map.items[k] for k in sorted(v.map.items))
                continue
            what = v.scalar.WhichOneof("value") if kind == "scalar" else kind
            size = v.paillier_vector.count if kind == "paillier_vector" else 1
            out.append((s.name, s.tag, str(what), size))
    return out


def test_the_host_only_ever_receives_ciphertexts(trained: tuple[FederatedRun, Table, Table]) -> None:
    run, guest, host = trained
    view = _view(run, 1, 2)
    assert len(view) > 20
    for name, _, kind, _ in view:
        assert kind in ("paillier_public_key", "paillier_vector") or GUEST_PLAIN.get(name) == kind, (
            name,
            kind,
        )
    wire = [s.payload for s in run.hub.sent]
    y = guest.label
    assert y is not None
    needles = [
        y[i : i + 16].astype(dt).tobytes() for i in range(0, 64, 8) for dt in ("<f8", "<f4", "<i8", "u1")
    ]
    needles += [np.asarray(v, dtype="<f8").tobytes() for v in host.features[:20, 0]]
    needles += [np.asarray(v, dtype="<f8").tobytes() for v in guest.features[:20, 0]]
    assert [n for n in needles for p in wire if n in p] == []
    cts, n = [], 0
    for s in run.hub.sent:
        root = pb.Value()
        root.ParseFromString(s.payload)
        stack = [root]
        while stack:
            v = stack.pop()
            if v.WhichOneof("kind") == "map":
                stack.extend(v.map.items.values())
            elif v.WhichOneof("kind") == "paillier_public_key":
                n = int.from_bytes(v.paillier_public_key.n, "big")
            elif v.WhichOneof("kind") == "paillier_vector":
                pv = v.paillier_vector
                cts += [
                    int.from_bytes(pv.data[i : i + pv.width], "big") for i in range(0, len(pv.data), pv.width)
                ]
    assert len(set(cts)) == len(cts) and not any(c % n == 1 for c in cts)  # every ciphertext fresh


def test_predict_reproduces_the_training_scores(trained: tuple[FederatedRun, Table, Table]) -> None:
    run, guest, host = trained
    pred = run_component(
        "hetero_sshe_lr_predict",
        PARTIES,
        inputs={1: {"data": guest}, 2: {"data": host}},
        input_models={1: {"model": run.result(1).model}, 2: {"model": run.result(2).model}},
        params={"key_bits": 1024},
    )
    pred.raise_any()
    scores = pred.result(1).tables["predictions"].features
    assert np.allclose(scores, run.result(1).tables["predictions"].features, atol=1e-9)
    assert {k for _, _, k, _ in _view(pred, 1, 2)} == {"paillier_public_key", "paillier_vector"}


def _forging_batch(
    ctx: Any, X: np.ndarray, enc_xg: EncryptedVector, c: int, own: np.ndarray, idx: np.ndarray, tag: str
) -> np.ndarray:
    """A malicious host: returns the guest's own encrypted residual part [[u]] (label-dependent) to be decrypted."""
    m, d_h = len(idx), X.shape[1]
    enc_u = recv_checked(ctx, "guest", "u", tag)
    recv_checked(ctx, "guest", "w_share", tag)
    ctx.send(
        "guest",
        "masked",
        {
            "residual": enc_u.obfuscate(),
            "guest_mask": enc_u[np.arange(c)].obfuscate(),
            "host_gradient": enc_u[np.arange(d_h)].obfuscate(),
        },
        tag=tag,
    )
    del m
    return np.zeros(d_h)


def test_a_host_forging_vectors_learns_nothing(
    cancer: tuple[np.ndarray, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    guest, host = vertical_split(cancer[0][:120], cancer[1][:120], 10)
    honest = _train(guest, host, epochs=2)
    honest.raise_any()
    monkeypatch.setattr(host_mod, "_batch", _forging_batch)
    forged = _train(guest, host, epochs=2)
    forged.raise_any()
    # The guest decrypted the label-dependent values the host sent back, but kept the plaintexts:
    # the forging host receives exactly what an honest host does, only fresh ciphertexts under the
    # guest's key, of sizes fixed by the job. Nothing it receives depends on what it sent in the clear.
    assert _view(forged, 1, 2) == _view(honest, 1, 2)
    for name, _, kind, _ in _view(forged, 1, 2):
        assert kind in ("paillier_public_key", "paillier_vector") or GUEST_PLAIN.get(name) == kind


def test_forged_shapes_are_refused(
    cancer: tuple[np.ndarray, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    guest, host = vertical_split(cancer[0][:60], cancer[1][:60], 10)

    def long_gradient(
        ctx: Any, X: np.ndarray, enc_xg: EncryptedVector, c: int, own: np.ndarray, idx: np.ndarray, tag: str
    ) -> np.ndarray:
        enc_u = recv_checked(ctx, "guest", "u", tag)
        recv_checked(ctx, "guest", "w_share", tag)
        out = enc_u.obfuscate()  # one value per row instead of one per host feature
        ctx.send(
            "guest",
            "masked",
            {"residual": out, "guest_mask": out[np.arange(c)], "host_gradient": out},
            tag=tag,
        )
        return np.zeros(X.shape[1])

    monkeypatch.setattr(host_mod, "_batch", long_gradient)
    run = _train(guest, host, epochs=1)
    assert isinstance(run.errors[1], IntegrityError)
    assert "host gradient share: expected 20 ciphertexts, got 60" in str(run.errors[1])


def test_more_than_one_host_is_refused(cancer: tuple[np.ndarray, np.ndarray]) -> None:
    guest, host = vertical_split(cancer[0][:40], cancer[1][:40], 10)
    run = run_component(
        "hetero_sshe_lr",
        {"guest": [1], "host": [2, 3]},
        inputs={1: {"data": guest}, 2: {"data": host}, 3: {"data": host}},
        params={**PARAMS, "epochs": 1},
    )
    assert set(run.errors) == {1, 2, 3}
    assert "exactly one host" in str(run.errors[1])


def test_invalid_params_are_rejected() -> None:
    from silobridge.components import registry
    from silobridge.errors import InvalidInput

    with pytest.raises(InvalidInput, match="batch_size"):
        registry.get("hetero_sshe_lr").validate({"batch_size": 0})
    with pytest.raises(InvalidInput, match="multiple of 256"):
        registry.get("hetero_sshe_lr").validate({"key_bits": 1100})
    with pytest.raises(InvalidInput, match="optimizer"):
        registry.get("hetero_sshe_lr").validate({"optimizer": "adam"})  # plain SGD only: shares stay linear
