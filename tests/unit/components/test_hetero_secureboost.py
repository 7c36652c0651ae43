"""Hetero SecureBoost: parity with scikit-learn's histogram GBDT trained centrally, predict, limits."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_digits, make_regression
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.metrics import roc_auc_score

from silobridge.components.hetero_secureboost import host as sbt_host
from silobridge.components.hetero_secureboost.common import SecureBoostParams
from silobridge.components.registry import ComponentDef, TaskResult
from silobridge.crypto import PackedEncoder, generate_keypair
from silobridge.disclosure import DisclosureLimits
from silobridge.errors import DisclosureRefused, InvalidInput
from silobridge.federation.context import TaskContext
from silobridge.ml.protocol import guarded, recv_checked
from silobridge.table import Table
from silobridge.testing import FederatedRun, run_component
from silobridge.testing.datasets import vertical_split

pytestmark = [pytest.mark.slow]

SETTINGS = {"num_trees": 5, "max_depth": 3, "learning_rate": 0.3, "max_bins": 32, "key_bits": 1024}
CENTRAL = {"max_iter": 5, "max_depth": 3, "learning_rate": 0.3, "max_bins": 32, "early_stopping": False}


def _fit(guest: Table, hosts: list[Table], **params: Any) -> FederatedRun:
    ids = list(range(2, 2 + len(hosts)))
    run = run_component(
        "hetero_secureboost",
        {"guest": [1], "host": ids},
        inputs={1: {"data": guest}, **{p: {"data": t} for p, t in zip(ids, hosts, strict=True)}},
        params={**SETTINGS, "l2": 0.0, "min_child_samples": 20, **params},
        workers=2,
    )
    run.raise_any()
    return run


def _predict(run: FederatedRun, guest: Table, hosts: list[Table]) -> TaskResult:
    ids = list(range(2, 2 + len(hosts)))
    pred = run_component(
        "hetero_secureboost_predict",
        {"guest": [1], "host": ids},
        inputs={1: {"data": guest}, **{p: {"data": t} for p, t in zip(ids, hosts, strict=True)}},
        input_models={p: {"model": run.result(p).model} for p in [1, *ids]},
    )
    pred.raise_any()
    return pred.result(1)


@pytest.fixture(scope="module")
def breast(cancer: tuple[np.ndarray, np.ndarray]) -> tuple[FederatedRun, Table, Table]:
    guest, host = vertical_split(cancer[0], cancer[1], 10)
    return _fit(guest, [host]), guest, host


def test_breast_cancer_train_auc_matches_centralised_histogram_gbdt(
    breast: tuple[FederatedRun, Table, Table], cancer: tuple[np.ndarray, np.ndarray]
) -> None:
    run, _, _ = breast
    X, y = cancer
    central = HistGradientBoostingClassifier(**CENTRAL, l2_regularization=0.0, min_samples_leaf=20).fit(X, y)
    baseline = roc_auc_score(y, central.predict_proba(X)[:, 1])
    summary = run.result(1).summary
    assert summary["trees"] == 5
    assert abs(summary["train_auc"] - baseline) < 0.005, (summary["train_auc"], baseline)


def test_predict_reproduces_training_scores_without_host_thresholds_at_the_guest(
    breast: tuple[FederatedRun, Table, Table],
) -> None:
    run, guest, host = breast
    result = _predict(run, guest, [host])
    trained = run.result(1).tables["predictions"].features[:, 0]
    assert np.allclose(result.tables["predictions"].features[:, 0], trained)
    assert result.summary["auc"] == pytest.approx(run.result(1).summary["train_auc"])
    guest_model, host_model = run.result(1).model, run.result(2).model
    assert guest_model is not None and host_model is not None
    host_nodes = guest_model["owner"] == 2
    assert host_nodes.any()
    # The guest's model names host splits only by opaque id; the host keeps the thresholds.
    assert np.all(np.isnan(guest_model["threshold"][host_nodes]))
    assert set(guest_model["split_id"][host_nodes]) == set(
        host_model["split_id"][host_model["split_id"] >= 0]
    )
    assert np.isfinite(host_model["threshold"][host_nodes]).all()
    assert host_model["importance_split"].sum() == host_nodes.sum()
    assert guest_model["importance_split"].sum() == (guest_model["owner"] == 1).sum()


def test_packed_and_unpacked_gradients_grow_the_same_model() -> None:
    # Regression: every row has its own gradient, so no two candidate splits tie and the hosts'
    # random slot order cannot pick a different one of equal gain (binary's first tree has only two
    # gradient values, where different partitions often gain exactly the same).
    X, y = make_regression(n_samples=300, n_features=8, noise=5.0, random_state=1)
    guest, host = vertical_split(X, y, 3)
    packed = _fit(guest, [host], objective="regression", num_trees=2).result(1).model
    unpacked = _fit(guest, [host], objective="regression", num_trees=2, packing=False).result(1).model
    assert packed is not None and unpacked is not None
    assert np.array_equal(packed["tree_sizes"], unpacked["tree_sizes"])
    assert np.array_equal(packed["owner"], unpacked["owner"])
    assert np.allclose(packed["leaf_value"], unpacked["leaf_value"], atol=1e-9)


def test_two_hosts_match_the_centralised_model(cancer: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = cancer
    guest, rest = vertical_split(X, y, 10)
    hosts = [
        Table(ids=rest.ids, features=rest.features[:, :10], feature_names=rest.feature_names[:10]),
        Table(ids=rest.ids, features=rest.features[:, 10:], feature_names=rest.feature_names[10:]),
    ]
    run = _fit(guest, hosts, num_trees=3)
    central = HistGradientBoostingClassifier(
        **{**CENTRAL, "max_iter": 3}, l2_regularization=0.0, min_samples_leaf=20
    ).fit(X, y)
    baseline = roc_auc_score(y, central.predict_proba(X)[:, 1])
    assert abs(run.result(1).summary["train_auc"] - baseline) < 0.005
    owners = set(run.result(1).model["owner"].tolist())  # type: ignore[index]
    assert {2, 3} <= owners  # both hosts' features were chosen somewhere
    assert _predict(run, guest, hosts).summary["auc"] == pytest.approx(run.result(1).summary["train_auc"])


def test_missing_values_learn_a_default_direction() -> None:
    rng = np.random.default_rng(3)
    n = 400
    y = (rng.random(n) < 0.5).astype(np.float64)
    x_host = rng.normal(size=(n, 2))
    x_host[y == 1, 0] = np.nan  # only the host's missingness predicts the label
    x_host[rng.random(n) < 0.1, 1] = np.nan
    ids = np.array([f"r{i}" for i in range(n)])
    guest = Table(ids=ids, features=rng.normal(size=(n, 2)), feature_names=["a", "b"], label=y)
    host = Table(ids=ids, features=x_host, feature_names=["h0", "h1"])
    run = _fit(guest, [host], num_trees=2, max_depth=2)
    assert run.result(1).summary["train_auc"] > 0.99
    host_model = run.result(2).model
    assert host_model is not None
    roots = np.concatenate([[0], np.cumsum(host_model["tree_sizes"])[:-1]])
    assert np.all(host_model["feature"][roots] == 0)  # every tree splits first on the missingness
    score = run.result(1).tables["predictions"].features[:, 0]
    assert score[y == 1].min() > score[y == 0].max()
    assert _predict(run, guest, [host]).summary["auc"] > 0.99


def test_regression_matches_the_centralised_model() -> None:
    X, y = make_regression(n_samples=500, n_features=12, noise=5.0, random_state=0)
    guest, host = vertical_split(X, y, 5)
    run = _fit(guest, [host], objective="regression")
    central = HistGradientBoostingRegressor(**CENTRAL, l2_regularization=0.0, min_samples_leaf=20).fit(X, y)
    baseline = float(np.sqrt(np.mean((central.predict(X) - y) ** 2)))
    rmse = run.result(1).summary["train_rmse"]
    assert abs(rmse - baseline) / baseline < 0.03, (rmse, baseline)
    assert _predict(run, guest, [host]).summary["rmse"] == pytest.approx(rmse)


def test_multiclass_matches_the_centralised_model() -> None:
    X, y = load_digits(n_class=3, return_X_y=True)
    guest, host = vertical_split(X.astype(np.float64), y.astype(np.float64), 32)
    run = _fit(guest, [host], objective="multiclass", num_trees=3)
    central = HistGradientBoostingClassifier(
        **{**CENTRAL, "max_iter": 3}, l2_regularization=0.0, min_samples_leaf=20
    ).fit(X, y)
    assert run.result(1).summary["trees"] == 9  # one tree per class and round
    assert run.result(1).summary["train_accuracy"] >= central.score(X, y) - 0.01
    assert _predict(run, guest, [host]).summary["accuracy"] == run.result(1).summary["train_accuracy"]


def test_row_and_feature_subsampling(breast: tuple[FederatedRun, Table, Table]) -> None:
    _, guest, host = breast
    run = _fit(guest, [host], subsample=0.7, colsample=0.5, seed=3)
    assert run.result(1).summary["train_auc"] > 0.98
    model = run.result(2).model
    assert model is not None
    per_tree = np.split(model["feature"], np.cumsum(model["tree_sizes"])[:-1])
    assert all(len(set(f[f >= 0].tolist())) <= 10 for f in per_tree)  # half of its 20 columns per tree


def test_early_stopping_on_a_validation_table(cancer: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = cancer
    guest, host = vertical_split(X, y, 10)
    train, valid = np.arange(0, 400), np.arange(400, len(y))
    run = run_component(
        "hetero_secureboost",
        {"guest": [1], "host": [2]},
        inputs={
            1: {"data": guest.take(train), "validate": guest.take(valid)},
            2: {"data": host.take(train), "validate": host.take(valid)},
        },
        params={
            **SETTINGS,
            "num_trees": 12,
            "learning_rate": 1.0,
            "early_stopping_rounds": 2,
            "max_depth": 2,
        },
        workers=2,
    )
    run.raise_any()
    summary = run.result(1).summary
    losses = [v for name, v, _ in run.metrics[1] if name == "validation_loss"]
    assert len(losses) < 12  # stopped early
    assert summary["trees"] == summary["best_round"] == float(np.argmin(losses) + 1)
    assert run.result(2).model["tree_sizes"].size == summary["trees"]  # type: ignore[index]


def test_host_refuses_histograms_of_fewer_than_k_rows(cancer: tuple[np.ndarray, np.ndarray]) -> None:
    """A guest that asks for the histogram of a 5-row node gets a refusal, not the histogram."""
    guest_table, host_table = vertical_split(cancer[0][:100], cancer[1][:100], 10)

    def forged_guest(ctx: TaskContext) -> TaskResult:
        pk, sk = generate_keypair(1024)
        ctx.trust_key(pk)
        ctx.send("host", "pubkey", pk, tag="setup")
        ctx.send("host", "plan", {"rows": 100, "outputs": 1, "validate_rows": 0}, tag="setup")
        recv_checked(ctx, "host", "features", "setup")
        enc = PackedEncoder([(-1.0, 1.0), (0.0, 0.25)], max_rows=100)
        gh = enc.encrypt(sk, np.zeros((100, 2)))
        ctx.send(
            "host", "gh", {"stop": False, "gh": [gh], "sampled": np.packbits(np.ones(100, bool))}, tag="t0"
        )
        node_of_row = np.full(100, -1, dtype=np.int32)
        node_of_row[:5] = 0
        ctx.send(
            "host",
            "nodes",
            {
                "layer": np.array([0], np.int32),
                "compute": np.array([0], np.int32),
                "node_of_row": node_of_row,
            },
            tag="t0d0",
        )
        with pytest.raises(Exception, match="aborted"):
            recv_checked(ctx, "host", "hist", "t0d0")
        return TaskResult()

    defn = ComponentDef(
        name="hetero_secureboost",
        roles={"guest": forged_guest, "host": guarded(sbt_host.train)},
        params=SecureBoostParams,
    )
    run = run_component(
        defn,
        {"guest": [1], "host": [2]},
        inputs={1: {"data": guest_table}, 2: {"data": host_table}},
        limits={2: DisclosureLimits(min_rows=10)},
        params={"key_bits": 1024},
    )
    assert isinstance(run.errors.get(2), DisclosureRefused)
    assert "fewer than the minimum aggregation size k=10" in str(run.errors[2])
    assert not [s for s in run.hub.sent if s.name == "hist"]


def test_parameters_are_validated() -> None:
    from silobridge.components import registry

    defn = registry.get("hetero_secureboost")
    with pytest.raises(InvalidInput, match="max_depth"):
        defn.validate({"max_depth": 0})
    with pytest.raises(InvalidInput, match="key_bits"):
        defn.validate({"key_bits": 1000})
    with pytest.raises(InvalidInput, match="bins"):
        defn.validate({"bins": 32})  # unknown keys are errors
