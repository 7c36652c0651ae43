"""statistics: each party's own column statistics; hosts share only moments, and none below k."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from silobridge.disclosure import DisclosureLimits
from silobridge.federation.v1 import values_pb2 as pb
from silobridge.table import Table
from silobridge.testing import run_component
from silobridge.testing.datasets import vertical_split

PARTIES = {"guest": [1], "host": [2]}


@pytest.fixture
def tables(cancer: tuple[np.ndarray, np.ndarray]) -> tuple[Table, Table]:
    guest, host = vertical_split(cancer[0][:100], cancer[1][:100], 10)
    host.features[:95, 1] = np.nan  # 5 values left: fewer than k = 10
    host.features[::4, 2] = np.nan
    return guest, host


def test_statistics_match_numpy_and_scipy(tables: tuple[Table, Table]) -> None:
    guest, host = tables
    run = run_component("statistics", PARTIES, inputs={1: {"data": guest}, 2: {"data": host}})
    run.raise_any()
    assert [s for s in run.hub.sent if s.name != "abort"] == []  # by default nothing crosses
    model = run.result(2).model
    assert model is not None
    col = host.features[:, 2][~np.isnan(host.features[:, 2])]
    assert model["count"][2] == len(col) and model["missing_rate"][2] == pytest.approx(0.25)
    assert model["skew"][2] == pytest.approx(sps.skew(col))
    assert model["std"][2] == pytest.approx(np.std(col))
    assert np.allclose(model["quantiles"][:, 2], np.quantile(col, [0.25, 0.5, 0.75]))
    assert model["min"][2] == col.min() and model["max"][2] == col.max()


def test_hosts_share_moments_only_and_none_below_k(tables: tuple[Table, Table]) -> None:
    guest, host = tables
    run = run_component(
        "statistics",
        PARTIES,
        inputs={1: {"data": guest}, 2: {"data": host}},
        params={"share_with_guest": True},
        limits={2: DisclosureLimits(min_rows=10)},
    )
    run.raise_any()
    model = run.result(1).model
    assert model is not None
    assert np.isnan(model["host_2_mean"][1]) and np.isnan(model["host_2_count"][1])  # 5 values < k
    assert model["host_2_mean"][0] == pytest.approx(host.features[:, 0].mean())
    assert not any(k.startswith("host_2_") and k.endswith(("min", "max", "quantiles")) for k in model)
    (sent,) = [s for s in run.hub.sent if s.name != "abort"]
    v = pb.Value()
    v.ParseFromString(sent.payload)
    assert set(v.map.items) == {"count", "missing_rate", "mean", "std", "skew"}
    for needle in (np.asarray(host.features[:, 0].max(), dtype="<f8").tobytes(), b"h0"):
        assert needle not in sent.payload  # no single-row value, no column name
