"""Vertical logistic regression: accuracy against a centralised baseline, prediction, failures."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from silobridge.errors import ComponentError, CryptoError
from silobridge.table import Table
from silobridge.testing import FederatedRun, run_component
from silobridge.testing.datasets import vertical_split

PARTIES = {"guest": [1], "host": [2], "arbiter": [3]}
FAST = {"key_bits": 1024, "seed": 1}


def _train(guest: Table, hosts: dict[int, Table], **params: object) -> FederatedRun:
    parties = {"guest": [1], "host": sorted(hosts), "arbiter": [9]}
    inputs = {1: {"data": guest}, **{h: {"data": t} for h, t in hosts.items()}}
    return run_component("hetero_lr", parties, inputs=inputs, params={**FAST, **params}, workers=2)


@pytest.fixture(scope="module")
def trained(cancer: tuple[np.ndarray, np.ndarray]) -> tuple[FederatedRun, Table, Table]:
    X, y = cancer
    guest, host = vertical_split(X, y, 10)
    run = _train(guest, {2: host}, epochs=3, batch_size=128, learning_rate=0.15)
    run.raise_any()
    return run, guest, host


def test_auc_is_within_001_of_centralised_baseline(
    trained: tuple[FederatedRun, Table, Table], cancer: tuple[np.ndarray, np.ndarray]
) -> None:
    run, _, _ = trained
    X, y = cancer
    baseline = roc_auc_score(y, LogisticRegression(max_iter=1000).fit(X, y).predict_proba(X)[:, 1])
    pred = run.result(1).tables["predictions"]
    federated = roc_auc_score(pred.label, pred.features[:, pred.feature_names.index("score")])
    assert federated >= baseline - 0.01, (federated, baseline)
    assert run.result(1).summary["train_auc"] == pytest.approx(federated)


def test_each_party_keeps_only_its_own_weights(trained: tuple[FederatedRun, Table, Table]) -> None:
    run, guest, host = trained
    g, h, a = run.result(1).model, run.result(2).model, run.result(9).model
    assert g is not None and h is not None and a is not None
    assert g["weights"].shape == (10,) and g["intercept"].shape == (1,)
    assert list(g["feature_names"]) == guest.feature_names
    assert h["weights"].shape == (20,) and list(h["feature_names"]) == host.feature_names
    assert set(a) == {"key_bits"} and int(a["key_bits"][0]) == 1024
    losses = [v for name, v, _ in run.metrics[9] if name == "loss"]
    assert len(losses) == 3 and losses[-1] < losses[0]  # the loss the arbiter decrypts goes down
    assert [v for name, v, _ in run.metrics[1] if name == "loss"] == losses
    assert run.progress[2][-1] == 1.0


def test_predict_component_reproduces_training_scores(trained: tuple[FederatedRun, Table, Table]) -> None:
    run, guest, host = trained
    models = {1: {"model": run.result(1).model}, 2: {"model": run.result(2).model}}
    pred = run_component(
        "predict", PARTIES, inputs={1: {"data": guest}, 2: {"data": host}}, input_models=models
    )
    pred.raise_any()
    scores = pred.result(1).tables["predictions"]
    assert np.allclose(scores.features, run.result(1).tables["predictions"].features)
    assert list(scores.ids) == list(guest.ids)
    sent = [s for s in pred.hub.sent if s.name != "abort"]
    assert {(s.src, s.dst, s.name) for s in sent} == {(2, 1, "partial_scores")}


def test_evaluation_of_the_predictions_matches_sklearn(trained: tuple[FederatedRun, Table, Table]) -> None:
    run, _, _ = trained
    pred = run.result(1).tables["predictions"]
    ev = run_component("evaluation", {"guest": [1]}, inputs={1: {"data": pred}})
    s = ev.result(1).summary
    score = pred.features[:, 0]
    assert s["auc"] == pytest.approx(roc_auc_score(pred.label, score))
    assert s["accuracy"] == pytest.approx(float(np.mean((score >= 0.5) == (pred.label == 1))))
    assert {n for n, _, _ in ev.metrics[1]} >= {"auc", "ks", "accuracy", "precision", "recall", "f1"}


def test_two_hosts_train_the_same_model_as_one_host_with_their_columns(
    cancer: tuple[np.ndarray, np.ndarray],
) -> None:
    X, y = cancer[0][:120], cancer[1][:120]
    guest, host = vertical_split(X, y, 10)
    h_a = Table(ids=host.ids, features=host.features[:, :8], feature_names=host.feature_names[:8])
    h_b = Table(ids=host.ids, features=host.features[:, 8:], feature_names=host.feature_names[8:])
    one = _train(guest, {2: host}, epochs=2, batch_size=60, tol=0.0)
    two = _train(guest, {2: h_a, 3: h_b}, epochs=2, batch_size=60, tol=0.0)
    one.raise_any()
    two.raise_any()
    loss_one = [v for n, v, _ in one.metrics[9] if n == "loss"]
    loss_two = [v for n, v, _ in two.metrics[9] if n == "loss"]  # includes the hosts' cross terms
    assert loss_two == pytest.approx(loss_one, rel=1e-6)
    w_one = one.result(2).model["weights"]  # type: ignore[index]
    w_two = np.concatenate([two.result(2).model["weights"], two.result(3).model["weights"]])  # type: ignore[index]
    assert np.allclose(w_one, w_two, atol=1e-8)


# ----- malformed inputs: every party fails, naming the problem -----------------------------------
def _small(cancer: tuple[np.ndarray, np.ndarray]) -> tuple[Table, Table]:
    return vertical_split(cancer[0][:40], cancer[1][:40], 10)


def _assert_all_fail(run: FederatedRun, parties: set[int], needle: str) -> None:
    assert set(run.errors) == parties, run.errors
    for party, exc in run.errors.items():
        assert needle in str(exc), (party, exc)


def test_missing_label_fails_everywhere(cancer: tuple[np.ndarray, np.ndarray]) -> None:
    guest, host = _small(cancer)
    guest.label = None
    _assert_all_fail(_train(guest, {2: host}, epochs=1), {1, 2, 9}, "missing label column")


def test_nan_feature_fails_everywhere(cancer: tuple[np.ndarray, np.ndarray]) -> None:
    guest, host = _small(cancer)
    host.features[3, 5] = np.nan
    run = _train(guest, {2: host}, epochs=1)
    _assert_all_fail(run, {1, 2, 9}, "NaN")
    assert "'h5'" in str(run.errors[2]) and "'h5'" not in str(run.errors[1])  # column names stay home


def test_misaligned_rows_fail_everywhere(cancer: tuple[np.ndarray, np.ndarray]) -> None:
    guest, host = _small(cancer)
    _assert_all_fail(_train(guest, {2: host.take(np.arange(30))}, epochs=1), {1, 2, 9}, "row counts differ")


def test_mismatched_key_sizes_fail_everywhere(cancer: tuple[np.ndarray, np.ndarray]) -> None:
    guest, host = _small(cancer)
    run = run_component(
        "hetero_lr",
        {"guest": [1], "host": [2], "arbiter": [9]},
        inputs={1: {"data": guest}, 2: {"data": host}},
        params={**FAST, "epochs": 1},
        party_params={2: {"key_bits": 2048}},
    )
    _assert_all_fail(run, {1, 2, 9}, "mismatched key sizes")
    assert isinstance(run.errors[2], CryptoError)
    assert isinstance(run.errors[1], ComponentError)


def test_invalid_params_are_rejected() -> None:
    from silobridge.components import registry
    from silobridge.errors import InvalidInput

    with pytest.raises(InvalidInput, match="batch_size"):
        registry.get("hetero_lr").validate({"batch_size": 0})
    with pytest.raises(InvalidInput, match="optimizer"):
        registry.get("hetero_lr").validate({"optimizer": "lbfgs"})
