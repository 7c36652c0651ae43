"""data_split: the same rows in each split at every party, stratified, only split codes cross."""

from __future__ import annotations

import numpy as np
import pytest

from silobridge.errors import InvalidInput
from silobridge.federation.v1 import values_pb2 as pb
from silobridge.table import Table
from silobridge.testing import FederatedRun, run_component
from silobridge.testing.datasets import vertical_split

PARTIES = {"guest": [1], "host": [2, 3]}
PARAMS = {"train_size": 0.6, "validate_size": 0.2, "test_size": 0.2, "seed": 4}


@pytest.fixture(scope="module")
def split(cancer: tuple[np.ndarray, np.ndarray]) -> tuple[FederatedRun, Table, Table]:
    guest, host = vertical_split(*cancer, 10)
    run = run_component(
        "data_split",
        PARTIES,
        inputs={1: {"data": guest}, 2: {"data": host}, 3: {"data": host}},
        params=PARAMS,
    )
    run.raise_any()
    return run, guest, host


def test_every_party_holds_the_same_rows_in_each_split(split: tuple[FederatedRun, Table, Table]) -> None:
    run, guest, _ = split
    seen: list[str] = []
    for name, frac in (("train", 0.6), ("validate", 0.2), ("test", 0.2)):
        ids = run.result(1).tables[name].ids
        assert abs(len(ids) - frac * guest.rows) <= 2
        for h in (2, 3):
            assert list(run.result(h).tables[name].ids) == list(ids)
        seen += list(ids)
    assert sorted(seen) == sorted(guest.ids)  # a partition: every row once


def test_splits_keep_the_label_proportions(split: tuple[FederatedRun, Table, Table]) -> None:
    run, guest, _ = split
    overall = float(guest.label.mean())  # type: ignore[union-attr]
    for name in ("train", "validate", "test"):
        t = run.result(1).tables[name]
        assert abs(float(t.label.mean()) - overall) <= 1.0 / t.rows + 1e-12  # type: ignore[union-attr]


def test_only_row_counts_and_split_codes_cross(split: tuple[FederatedRun, Table, Table]) -> None:
    run, guest, _ = split
    kinds = set()
    for s in run.hub.sent:
        v = pb.Value()
        v.ParseFromString(s.payload)
        kinds.add((s.name, v.WhichOneof("kind")))
        assert s.name in {"rows", "split"}
        if s.name == "split":
            codes = np.frombuffer(v.tensor.data, dtype=np.uint8)
            assert not np.array_equal(codes, guest.label) and set(codes.tolist()) == {0, 1, 2}
    assert kinds == {("rows", "scalar"), ("split", "tensor")}


def test_host_refuses_split_sizes_other_than_the_job(cancer: tuple[np.ndarray, np.ndarray]) -> None:
    guest, host = vertical_split(*cancer, 10)
    # The guest runs the job with other fractions than the host accepted (a tiny test split).
    run = run_component(
        "data_split",
        {"guest": [1], "host": [2]},
        inputs={1: {"data": guest}, 2: {"data": host}},
        params=PARAMS,
        party_params={1: {"train_size": 0.78, "validate_size": 0.2, "test_size": 0.02}},
    )
    assert "do not follow the fractions" in str(run.errors[2])
    assert 2 not in run.results


def test_fractions_must_add_up() -> None:
    from silobridge.components import registry

    with pytest.raises(InvalidInput, match="must be 1"):
        registry.get("data_split").validate({"train_size": 0.5, "test_size": 0.2})
