"""The SDK's demo job (examples/vertical_lr.py) at three in-process parties: the same job spec
as the demo's YAML, run to SUCCEEDED with the same AUC, its metrics and model read back."""

from __future__ import annotations

import io
import runpy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from jobs import KEY_BITS, allow_everywhere, submit_and_wait, task_summary, vertical_job
from parties import InProcessParties

from silobridge_cli import demo_data
from silobridge_cli.demo import upload

pytestmark = [pytest.mark.slow]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "vertical_lr.py"


@pytest.fixture(scope="module")
def both(parties: InProcessParties) -> dict[str, Any]:
    x, y = demo_data.load("breast_cancer")
    split = demo_data.split(x, y, 10)
    upload(parties.flow("guest"), split.guest_csv, namespace="demo", name="guest", label_column="y")
    upload(parties.flow("host"), split.host_csv, namespace="demo", name="host")
    yaml_job = submit_and_wait(parties.flow("guest"), vertical_job())

    pipe = runpy.run_path(str(EXAMPLE))["build"](key_bits=KEY_BITS, seed=11)
    allow_everywhere(pipe.to_dict())
    job = pipe.submit(parties.flow("guest"))
    bar = io.StringIO()
    job.wait(240, progress=True, stream=bar, poll_s=0.5)
    return {"yaml": yaml_job, "sdk": job, "bar": bar.getvalue(), "split": split}


def test_sdk_job_succeeds_with_the_yaml_jobs_auc(both: dict[str, Any]) -> None:
    sdk, yaml_job = both["sdk"], both["yaml"]
    assert yaml_job["state"] == "SUCCEEDED", yaml_job["message"]
    assert sdk.detail["state"] == "SUCCEEDED", sdk.detail["message"]
    assert sdk.job_id != yaml_job["job_id"]
    auc = sdk.summary("evaluation_0")["auc"]
    assert auc == pytest.approx(task_summary(yaml_job, "evaluation_0")["auc"], abs=1e-9)
    assert abs(auc - demo_data.baseline_auc(both["split"])) <= 0.01
    # reader and psi at guest and host, hetero_lr at all three, evaluation at the guest: 8 runs
    assert both["bar"].rsplit("\r", 1)[-1].split()[-3:] == ["8/8", "tasks", "SUCCEEDED"]


def test_sdk_reads_the_loss_curve_and_the_guests_model(both: dict[str, Any]) -> None:
    sdk = both["sdk"]
    loss = sdk.metrics("hetero_lr_0")["loss"]
    assert [step for step, _ in loss] == list(range(len(loss))) and 1 <= len(loss) <= 5
    assert loss[-1][1] < loss[0][1]
    assert "hetero_lr_0" in sdk.models()
    model = sdk.model("hetero_lr_0")
    weights = np.asarray(next(v for k, v in model.items() if "weight" in k or k == "w"))
    assert weights.shape[-1] == 10  # the guest's own 10 features, never the host's
