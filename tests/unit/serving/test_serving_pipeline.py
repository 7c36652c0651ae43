"""Serving applies a party's fitted scale and selection as the batch predicts do, and
``silobridge model deploy`` sends them along only when nothing else transformed the rows."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from serving import deploy
from silobridge.components import pipeline
from silobridge.federation import codec
from silobridge.table import Table
from silobridge_cli.job import CliError
from silobridge_cli.model import pipeline_tasks

NAMES = ["a", "b", "c"]
SCALE = {
    "component": np.asarray(["feature_scale"]),
    "feature_names": np.asarray(NAMES),
    "center": np.asarray([1.0, 2.0, 3.0]),
    "scale": np.asarray([2.0, 4.0, 0.5]),
}
SELECTION = {
    "component": np.asarray(["feature_selection"]),
    "feature_names": np.asarray(NAMES),
    "selected": np.asarray(["a", "c"]),
}


def _version(tmp_path: Path, role: str, model: dict[str, Any], table: dict[str, Any] | None) -> Path:
    folder = tmp_path / "v1"
    folder.mkdir()
    (folder / deploy.MODEL_FILE).write_bytes(codec.to_bytes(model))
    (folder / deploy.PIPELINE_FILES["scale"]).write_bytes(codec.to_bytes(SCALE))
    (folder / deploy.PIPELINE_FILES["selection"]).write_bytes(codec.to_bytes(SELECTION))
    if table is not None:
        (folder / deploy.FEATURES_FILE).write_bytes(codec.to_bytes(table))
    meta = {
        "name": "default",
        "version": 1,
        "job_id": "j1",
        "task": "hetero_lr_0",
        "component": "hetero_lr",
        "role": role,
        "parties": {"guest": [9999], "host": [10000]},
        "deployed_unix": 0.0,
    }
    (folder / "meta.json").write_text(json.dumps(meta))
    return folder


def test_a_host_scores_its_table_through_scale_then_selection(tmp_path: Path) -> None:
    X = np.asarray([[1.0, 5.0, 2.0], [3.0, -1.0, 7.0]])
    w = np.asarray([0.5, -2.0])
    model = {"weights": w, "feature_names": np.asarray(["a", "c"])}
    table = {"ids": np.asarray(["x", "y"]), "features": X, "feature_names": np.asarray(NAMES)}
    folder = _version(tmp_path, "host", model, table)
    d = deploy.restore(json.loads((folder / "meta.json").read_text()), folder, 10000)
    expected = pipeline.select(
        SELECTION, pipeline.scale(SCALE, Table(ids=["x", "y"], features=X, feature_names=NAMES))
    )
    scores, missing = d.scorer.lookup(["x", "y"])
    assert not missing
    assert scores == pytest.approx((expected.features @ w).tolist(), abs=1e-12)


def test_a_guest_takes_the_pipelines_columns_and_transforms_them(tmp_path: Path) -> None:
    model = {
        "weights": np.asarray([1.0, 1.0]),
        "intercept": np.asarray([0.0]),
        "feature_names": np.asarray(["a", "c"]),
    }
    folder = _version(tmp_path, "guest", model, None)
    d = deploy.restore(json.loads((folder / "meta.json").read_text()), folder, 9999)
    assert d.feature_names == NAMES  # a request names the columns before scaling and selection
    x, names = d.pipeline.apply(np.asarray([[3.0, 9.0, 4.0]]), d.feature_names)
    assert names == ["a", "c"] and x.tolist() == [[1.0, 2.0]]


def _job(*chain: tuple[str, str]) -> dict[str, Any]:
    """A DAG whose tasks read each other's ``data`` in order, the last one the trained model."""
    dag, prev = [], None
    for name, component in chain:
        dag.append({"name": name, "component": component, "inputs": {"data": f"{prev}.data"} if prev else {}})
        prev = name
    return {"dag": dag}


def test_deploy_finds_the_fitted_pipeline_upstream_of_the_model() -> None:
    job = _job(
        ("reader_0", "reader"),
        ("psi_0", "psi"),
        ("data_split_0", "data_split"),
        ("feature_scale_0", "feature_scale"),
        ("feature_selection_0", "feature_selection"),
        ("sbt", "hetero_secureboost"),
    )
    assert pipeline_tasks(job, "sbt") == {"scale": "feature_scale_0", "selection": "feature_selection_0"}
    assert pipeline_tasks(_job(("reader_0", "reader"), ("psi_0", "psi"), ("lr", "hetero_lr")), "lr") == {}


@pytest.mark.parametrize(
    ("chain", "why"),
    [
        (
            [("r", "reader"), ("s", "feature_scale"), ("b", "hetero_binning"), ("m", "hetero_secureboost")],
            "passed through b (hetero_binning)",
        ),
        ([("r", "reader"), ("f", "feature_selection"), ("s", "feature_scale"), ("m", "hetero_lr")], "order"),
    ],
)
def test_deploy_refuses_rows_it_cannot_transform_online(chain: list[tuple[str, str]], why: str) -> None:
    with pytest.raises(CliError, match=re.escape(why)):
        pipeline_tasks(_job(*chain), "m")
