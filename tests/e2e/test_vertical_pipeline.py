"""The example vertical DAG of ``make demo-pipeline`` (psi -> data_split -> feature_scale ->
hetero_binning -> feature_selection -> hetero_secureboost and hetero_sshe_lr -> evaluation, and
predict on the raw test rows) at single-process parties and with each party's services as OS
processes on RabbitMQ: the same columns selected, the same SSHE-LR model, the same SecureBoost AUC.

SecureBoost is compared by AUC within 0.002, not tree by tree: each host orders its features in a
fresh random permutation per job (so the guest cannot tell them apart), and the guest keeps the
first of two host splits of exactly equal gain, so ties can fall on another column. SSHE-LR is
deterministic given the job's seed (its random masks cancel), so its weights must agree.

The demo's baseline is checked too: the driver's centralised view of the rows and columns the
models trained on, with the models' weights, reproduces the federated AUCs exactly."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from deployments import Deployment, deployed
from jobs import KEY_BITS, job_detail, model, submit_and_wait, task_summary
from parties import InProcessParties
from test_multiprocess_brokers import _upload

from silobridge.components import pipeline
from silobridge.ml import metrics
from silobridge_cli import demo_data, demo_pipeline
from silobridge_cli.demo import load_config

pytestmark = [pytest.mark.multiprocess, pytest.mark.slow, pytest.mark.rabbitmq]

MODEL_TASKS = ("feature_scale_0", "feature_selection_0", "hetero_secureboost_0", "hetero_sshe_lr_0")


def _job() -> dict[str, Any]:
    """The demo's DAG with the tests' key size (the demo's already) and fewer SSHE-LR epochs."""
    job: dict[str, Any] = copy.deepcopy(load_config("vertical_pipeline")["job"])
    for c in job["components"]:
        if "key_bits" in c.get("params", {}):
            c["params"]["key_bits"] = KEY_BITS
        if c["component"] == "hetero_sshe_lr":
            c["params"]["epochs"] = 5
    return job


@dataclass
class Run:
    job: dict[str, Any]
    models: dict[str, dict[str, Any]]  # role -> task -> that party's model

    def auc(self, evaluation: str) -> float:
        return task_summary(self.job, evaluation)["auc"]


def _run(flows: dict[str, str], split: demo_data.VerticalSplit) -> Run:
    _upload(flows, split)
    job = submit_and_wait(flows["guest"], _job(), timeout_s=300)
    assert job["state"] == "SUCCEEDED", job["message"]
    assert job_detail(flows["host"], job["job_id"])["state"] == "SUCCEEDED"
    models = {
        role: {task: model(flows[role], job["job_id"], task) for task in MODEL_TASKS}
        for role in ("guest", "host")
    }
    return Run(job, models)


@pytest.fixture(scope="module")
def split() -> demo_data.VerticalSplit:
    return demo_data.split(*demo_data.load("breast_cancer"), 10)


@pytest.fixture(scope="module")
def single(parties: InProcessParties, split: demo_data.VerticalSplit) -> Run:
    return _run({role: parties.flow(role) for role in ("guest", "host")}, split)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    with deployed("rabbitmq", Path(tmp_path_factory.mktemp("pipeline-rabbitmq"))) as d:
        yield d


def _host_weights(run: Run) -> np.ndarray:
    """The host's SSHE-LR weights: its own share plus the guest's."""
    return np.asarray(run.models["guest"]["hetero_sshe_lr_0"]["host_share"]) + np.asarray(
        run.models["host"]["hetero_sshe_lr_0"]["weight_share"]
    )


def test_the_demo_baseline_trains_on_the_models_rows_and_columns(
    single: Run, split: demo_data.VerticalSplit
) -> None:
    view = demo_pipeline.central_view(split, _job(), single.models)
    assert view.columns == {
        role: pipeline.names_of(single.models[role]["feature_selection_0"], "selected")
        for role in ("guest", "host")
    }
    assert [len(view.columns["guest"]), len(view.columns["host"])] == [5, 8]  # top-k IV per party
    assert view.train.rows == task_summary(single.job, "data_split_0")["train_rows"]
    # The SSHE-LR model, put together, scores the driver's rows exactly as the job scored its own.
    lr = single.models["guest"]["hetero_sshe_lr_0"]
    w = np.concatenate([lr["weights"], _host_weights(single)])
    for table, evaluation in ((view.train, "evaluation_sshe_lr"), (view.test, "evaluation_sshe_lr_test")):
        z = table.features @ w + float(lr["intercept"][0])
        assert metrics.auc(table.label, metrics.sigmoid(z)) == pytest.approx(
            single.auc(evaluation), abs=1e-12
        )
    results = demo_pipeline.model_results(_job(), single.job, view)
    for name, r in results.items():
        assert r["auc"] > 0.98 and r["test_auc"] > 0.97, (name, r)
        assert abs(r["auc"] - r["baseline_auc"]) < 0.005, (name, r)


def test_multiprocess_on_rabbitmq_reaches_the_single_process_result(
    deployment: Deployment, single: Run, split: demo_data.VerticalSplit
) -> None:
    multi = _run(deployment.flows(), split)
    for role in ("guest", "host"):
        assert pipeline.names_of(multi.models[role]["feature_selection_0"], "selected") == pipeline.names_of(
            single.models[role]["feature_selection_0"], "selected"
        ), f"{role} selected other columns"
    guest, ref = multi.models["guest"]["hetero_sshe_lr_0"], single.models["guest"]["hetero_sshe_lr_0"]
    np.testing.assert_allclose(guest["weights"], ref["weights"], atol=1e-6, err_msg="guest weights differ")
    np.testing.assert_allclose(guest["intercept"], ref["intercept"], atol=1e-6, err_msg="intercepts differ")
    np.testing.assert_allclose(_host_weights(multi), _host_weights(single), atol=1e-6, err_msg="host weights")
    for evaluation in ("evaluation_sshe_lr", "evaluation_sshe_lr_test"):
        assert multi.auc(evaluation) == pytest.approx(single.auc(evaluation), abs=1e-9), evaluation
    for evaluation in ("evaluation_sbt", "evaluation_sbt_test"):
        assert abs(multi.auc(evaluation) - single.auc(evaluation)) < 0.002, evaluation
