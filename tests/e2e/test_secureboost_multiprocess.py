"""The SecureBoost job with each party's services as separate OS processes on a real broker reaches
the single-process result.

Not bit-identical trees: each host orders its features in a fresh random permutation per job (so
the guest cannot tell them apart), and the guest keeps the first of two host splits of exactly
equal gain, which in binary trees (rows share one of two gradients in the first tree) happens."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from deployments import Deployment, deployed
from jobs import model, submit_and_wait, task_summary
from parties import ROLES, InProcessParties
from test_multiprocess_brokers import _upload
from test_secureboost_job import _job

from silobridge_cli import demo_data

pytestmark = [pytest.mark.multiprocess, pytest.mark.slow]

BROKERS = [
    pytest.param("rabbitmq", marks=pytest.mark.rabbitmq),
    pytest.param("pulsar", marks=[pytest.mark.pulsar, pytest.mark.long]),
]


@pytest.fixture(scope="module", params=BROKERS)
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    with deployed(request.param, Path(tmp_path_factory.mktemp(f"sbt-multiprocess-{request.param}"))) as d:
        yield d


def _train(flows: dict[str, str], split: demo_data.VerticalSplit) -> tuple[float, dict[str, Any]]:
    _upload(flows, split)
    job = submit_and_wait(flows["guest"], _job(), timeout_s=300)
    assert job["state"] == "SUCCEEDED", job["message"]
    return task_summary(job, "evaluation_0")["auc"], model(
        flows["guest"], job["job_id"], "hetero_secureboost_0"
    )


@pytest.fixture(scope="module")
def split() -> demo_data.VerticalSplit:
    x, y = demo_data.load("breast_cancer")
    return demo_data.split(x, y, 10)


@pytest.fixture(scope="module")
def reference(parties: InProcessParties, split: demo_data.VerticalSplit) -> tuple[float, dict[str, Any]]:
    return _train({role: parties.flow(role) for role in ROLES}, split)


def test_secureboost_multiprocess_grows_the_single_process_trees(
    deployment: Deployment, reference: tuple[float, dict[str, Any]], split: demo_data.VerticalSplit
) -> None:
    auc, guest_model = _train(deployment.flows(), split)
    ref_auc, ref_model = reference
    assert abs(auc - ref_auc) < 0.002, (auc, ref_auc)
    params = next(c["params"] for c in _job()["components"] if c["component"] == "hetero_secureboost")
    assert abs(auc - demo_data.baseline_auc_gbdt(split, params)) < 0.005
    assert guest_model["tree_sizes"].size == ref_model["tree_sizes"].size == params["num_trees"]
