"""Horizontal logistic regression: the centralised baseline, secure == plain, predict, multiclass, FedProx."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from silobridge.errors import ComponentError
from silobridge.table import Table
from silobridge.testing import FederatedRun, run_component
from silobridge.testing.datasets import horizontal_split

ARBITER = 9
FAST = {"seed": 7, "rounds": 20, "local_epochs": 2, "batch_size": 64, "learning_rate": 0.5}


def _train(tables: list[Table], **params: object) -> FederatedRun:
    ids = list(range(1, len(tables) + 1))
    parties = {"guest": ids[:1], "host": ids[1:], "arbiter": [ARBITER]}
    inputs = {p: {"data": t} for p, t in zip(ids, tables, strict=True)}
    run = run_component("homo_lr", parties, inputs=inputs, params={**FAST, **params}, recv_timeout_s=60)
    run.raise_any()
    return run


@pytest.fixture(scope="module")
def split(cancer: tuple[np.ndarray, np.ndarray]) -> list[Table]:
    return horizontal_split(*cancer, 3, seed=11)


@pytest.fixture(scope="module")
def secure(split: list[Table]) -> FederatedRun:
    return _train(split, secure_aggregation=True)


@pytest.fixture(scope="module")
def plain(split: list[Table]) -> FederatedRun:
    return _train(split, secure_aggregation=False)


def _federated_auc(run: FederatedRun, clients: int) -> float:
    preds = [run.result(p).tables["predictions"] for p in range(1, clients + 1)]
    y = np.concatenate([t.label for t in preds])  # type: ignore[misc]
    return float(roc_auc_score(y, np.concatenate([t.features[:, 0] for t in preds])))


def test_auc_is_within_001_of_centralised_sklearn(
    secure: FederatedRun, split: list[Table], cancer: tuple[np.ndarray, np.ndarray]
) -> None:
    X, y = cancer
    assert sorted(len(t.ids) for t in split) == [189, 190, 190]
    assert abs(split[0].label.mean() - y.mean()) < 0.01  # type: ignore[union-attr]  # stratified
    baseline = roc_auc_score(y, LogisticRegression(max_iter=1000).fit(X, y).predict_proba(X)[:, 1])
    federated = _federated_auc(secure, 3)
    assert federated >= baseline - 0.01, (federated, baseline)
    assert secure.result(1).summary["train_auc"] > 0.98


def test_secure_aggregation_gives_the_plain_model_to_fixed_point_precision(
    secure: FederatedRun, plain: FederatedRun
) -> None:
    ws, wp = secure.result(ARBITER).model, plain.result(ARBITER).model
    assert ws is not None and wp is not None
    assert np.max(np.abs(ws["weights"] - wp["weights"])) < 1e-5
    assert np.max(np.abs(ws["weights"])) > 0.1  # a trained model, not zeros
    assert secure.result(ARBITER).summary["rounds"] == plain.result(ARBITER).summary["rounds"]


def test_every_party_ends_with_the_global_model(secure: FederatedRun, split: list[Table]) -> None:
    arbiter = secure.result(ARBITER).model
    assert arbiter is not None and "feature_names" not in arbiter  # the arbiter never sees column names
    for p in (1, 2, 3):
        m = secure.result(p).model
        assert m is not None
        assert np.array_equal(m["weights"], arbiter["weights"]) and m["weights"].shape == (30,)
        assert list(m["feature_names"]) == split[0].feature_names
    losses = [v for name, v, _ in secure.metrics[ARBITER] if name == "validation_loss"]
    assert losses[-1] < 0.5 * losses[0]  # aggregated validation loss, from log 2 down
    assert list(secure.result(1).model["loss_history"]) == losses  # type: ignore[index]


def test_the_standard_predict_scores_a_client_rows_with_its_model(
    secure: FederatedRun, split: list[Table]
) -> None:
    model = secure.result(2).model
    pred = run_component(
        "predict", {"guest": [2]}, inputs={2: {"data": split[1]}}, input_models={2: {"model": model}}
    )
    pred.raise_any()
    scores = pred.result(2).tables["predictions"].features[:, 0]
    assert np.allclose(scores, secure.result(2).tables["predictions"].features[:, 0])
    assert pred.result(2).summary["auc"] > 0.98
    assert pred.hub.sent == []  # a homo model predicts on its own rows: nothing crosses


def test_early_stopping_on_the_aggregated_validation_loss(split: list[Table]) -> None:
    run = _train(split, secure_aggregation=False, rounds=50, tol=0.01, patience=2)
    rounds = int(run.result(ARBITER).summary["rounds"])
    losses = [v for name, v, _ in run.metrics[ARBITER] if name == "validation_loss"]
    assert 3 <= rounds < 50 and len(losses) == rounds
    assert all(losses[-3] - later < 0.01 for later in losses[-2:])  # stopped: no gain of tol in 2 rounds


def test_multiclass_softmax_matches_centralised_accuracy() -> None:
    data = load_iris()
    X = (data.data - data.data.mean(axis=0)) / data.data.std(axis=0)
    y = data.target.astype(np.float64)
    run = _train(horizontal_split(X, y, 3, seed=2), classes=3, rounds=30, batch_size=16, learning_rate=0.3)
    baseline = LogisticRegression(max_iter=1000).fit(X, y).score(X, y)
    preds = [run.result(p).tables["predictions"] for p in (1, 2, 3)]
    assert preds[0].feature_names == ["score_0", "score_1", "score_2"]
    correct = sum(int(np.sum(np.argmax(t.features, axis=1) == t.label)) for t in preds)
    assert correct / len(y) >= baseline - 0.03, (correct / len(y), baseline)
    assert run.result(1).model["weights"].shape == (4, 3)  # type: ignore[index]


def test_fedprox_keeps_local_models_near_the_global_one(split: list[Table]) -> None:
    def first_step(mu: float) -> float:
        run = _train(split, secure_aggregation=False, rounds=1, local_epochs=20, mu=mu)
        return float(np.linalg.norm(run.result(ARBITER).model["weights"]))  # type: ignore[index]

    assert first_step(1.0) < 0.5 * first_step(0.0)


def test_clients_with_different_columns_are_refused(split: list[Table]) -> None:
    other = Table(
        ids=split[1].ids,
        features=split[1].features[:, :29],
        feature_names=split[1].feature_names[:29],
        label=split[1].label,
    )
    with pytest.raises(ComponentError, match="disagree on the table layout"):
        _train([split[0], other], rounds=1)
