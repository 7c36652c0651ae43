"""feature_scale and feature_selection: local fits, nothing crosses, and predict applies them identically."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from silobridge.errors import ComponentError
from silobridge.table import Table
from silobridge.testing import FederatedRun, run_component
from silobridge.testing.datasets import vertical_split

PARTIES = {"guest": [1], "host": [2]}


@pytest.fixture(scope="module")
def raw() -> tuple[Table, Table]:
    data = load_breast_cancer()
    return vertical_split(data.data[:200], data.target[:200].astype(np.float64), 10)


def _local(
    component: str, guest: Table, host: Table, models: dict | None = None, **params: object
) -> FederatedRun:
    run = run_component(
        component, PARTIES, inputs={1: {"data": guest}, 2: {"data": host}}, params=params, input_models=models
    )
    run.raise_any()
    assert [s for s in run.hub.sent if s.name != "abort"] == []  # each party fits on its own columns only
    return run


@pytest.mark.parametrize(("method", "reference"), [("standard", StandardScaler), ("min_max", MinMaxScaler)])
def test_scaling_matches_sklearn_on_each_partys_columns(
    raw: tuple[Table, Table], method: str, reference: type
) -> None:
    guest, host = raw
    run = _local("feature_scale", guest, host, method=method)
    for party, table in ((1, guest), (2, host)):
        out = run.result(party).tables["data"]
        assert out.feature_names == table.feature_names
        assert np.allclose(out.features, reference().fit_transform(table.features))


def test_selection_by_variance_and_missing_rate(raw: tuple[Table, Table]) -> None:
    guest, host = raw
    variances = np.var(host.features, axis=0)
    run = _local("feature_selection", guest, host, method="variance", threshold=float(np.median(variances)))
    kept = run.result(2).tables["data"].feature_names
    assert kept == [
        n for n, v in zip(host.feature_names, variances, strict=True) if v >= np.median(variances)
    ]
    holes = host.take(np.arange(host.rows))
    holes.features[: host.rows // 2, 0] = np.nan  # 50 % missing in the first host column
    run = _local("feature_selection", guest, holes, method="missing_rate", threshold=0.3)
    assert run.result(2).model["selected"].tolist() == host.feature_names[1:]  # type: ignore[index]


def test_selection_by_iv_uses_the_partys_binning(raw: tuple[Table, Table]) -> None:
    guest, host = raw
    binned = run_component(
        "hetero_binning", PARTIES, inputs={1: {"data": guest}, 2: {"data": host}}, params={"key_bits": 1024}
    )
    binned.raise_any()
    models = {p: {"binning": binned.result(p).model} for p in (1, 2)}
    iv = binned.result(2).model["iv"]  # type: ignore[index]
    run = _local("feature_selection", guest, host, models, method="iv_top_k", top_k=3)
    top = set(np.argsort(-iv)[:3])
    assert run.result(2).tables["data"].feature_names == [
        n for j, n in enumerate(host.feature_names) if j in top
    ]
    run = _local("feature_selection", guest, host, models, method="iv_threshold", threshold=0.5)
    assert run.result(1).model["selected"].tolist() == [  # type: ignore[index]
        n
        for n, v in zip(guest.feature_names, binned.result(1).model["iv"], strict=True)
        if v >= 0.5  # type: ignore[index]
    ]


def test_selection_that_keeps_nothing_is_refused(raw: tuple[Table, Table]) -> None:
    guest, host = raw
    run = run_component(
        "feature_selection",
        PARTIES,
        inputs={1: {"data": guest}, 2: {"data": host}},
        params={"method": "variance", "threshold": 1e12},
    )
    assert isinstance(run.errors[2], ComponentError) and "keeps no column" in str(run.errors[2])


# (trained component, its predict, the job's roles, training params): every vertical model.
MODELS = [
    ("hetero_lr", "predict", {**PARTIES, "arbiter": [9]}, {"key_bits": 1024, "epochs": 3, "seed": 3}),
    ("hetero_sshe_lr", "hetero_sshe_lr_predict", PARTIES, {"key_bits": 1024, "epochs": 3, "seed": 3}),
    (
        "hetero_secureboost",
        "hetero_secureboost_predict",
        PARTIES,
        {"key_bits": 1024, "num_trees": 3, "seed": 3},
    ),
]


@pytest.mark.parametrize(("component", "predict", "roles", "params"), MODELS, ids=[m[0] for m in MODELS])
def test_predict_applies_scale_then_selection_as_in_training(
    raw: tuple[Table, Table], component: str, predict: str, roles: dict[str, list[int]], params: dict
) -> None:
    """A model trained on scaled, selected columns scores the raw table as it scored its training rows."""
    guest, host = raw
    scaled = _local("feature_scale", guest, host, method="standard")
    g1, h1 = scaled.result(1).tables["data"], scaled.result(2).tables["data"]
    selected = _local("feature_selection", g1, h1, method="missing_rate", threshold=0.0)
    # keep a strict subset at the host so that selection visibly matters
    sel_host = dict(selected.result(2).model)  # type: ignore[arg-type]
    sel_host["selected"] = np.asarray(h1.feature_names[::2], dtype=str)
    g2 = selected.result(1).tables["data"]
    h2 = Table(ids=h1.ids, features=h1.features[:, ::2], feature_names=h1.feature_names[::2])
    trained = run_component(
        component, roles, inputs={1: {"data": g2}, 2: {"data": h2}}, params=params, workers=2
    )
    trained.raise_any()
    predict_params = {"key_bits": 1024} if component == "hetero_sshe_lr" else {}  # its predict makes a key
    models = {
        1: {
            "model": trained.result(1).model,
            "scale": scaled.result(1).model,
            "selection": selected.result(1).model,
        },
        2: {"model": trained.result(2).model, "scale": scaled.result(2).model, "selection": sel_host},
    }
    pred = run_component(
        predict,
        PARTIES,
        inputs={1: {"data": guest}, 2: {"data": host}},  # raw, unscaled, all columns
        input_models=models,
        params=predict_params,
    )
    pred.raise_any()
    scores = trained.result(1).tables["predictions"].features
    assert np.allclose(pred.result(1).tables["predictions"].features, scores, atol=1e-12)
    assert pred.result(1).summary["auc"] > 0.9
    without = run_component(
        predict,
        PARTIES,
        inputs={1: {"data": guest}, 2: {"data": host}},
        input_models={p: {"model": m["model"]} for p, m in models.items()},
        params=predict_params,
    )
    assert without.errors  # the raw table has other columns than the model: refused, not mis-scored
