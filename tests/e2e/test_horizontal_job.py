"""homo_lr end to end at three single-process parties: guest and host are clients with the same
columns about different rows, the arbiter aggregates under secure aggregation. It trains to the
centralised baseline, the arbiter receives only keys, sealed shares and masked vectors, nothing
private crosses a router, and a job that names code as a model is refused at submission."""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np
import pytest
import yaml
from jobs import allow_everywhere, submit_and_wait, task_summary
from parties import InProcessParties
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from silobridge.federation.v1 import envelope_pb2
from silobridge.testing.datasets import horizontal_split
from silobridge_cli import demo_data
from silobridge_cli.credentials import auth_headers
from silobridge_cli.demo import upload

pytestmark = [pytest.mark.slow]

GUEST, HOST, ARBITER = 9999, 10000, 10001
ID_PREFIX = "HSNTL"
SENTINEL_COLUMN = 2
ARBITER_INBOUND = {"schema", "secagg_keys", "secagg_shares", "masked_input", "secagg_reveal", "abort"}


def homo_job(**homo_lr: Any) -> dict[str, Any]:
    return {
        "initiator": {"role": "guest", "party_id": GUEST},
        "parties": {"guest": [GUEST], "host": [HOST], "arbiter": [ARBITER]},
        "timeout_s": 600,
        "components": [
            {
                "name": "reader_0",
                "component": "reader",
                "role_params": {
                    "guest": {"table": "homo.guest", "require_label": True},
                    "host": {"table": "homo.host", "require_label": True},
                },
            },
            {
                "name": "homo_lr_0",
                "component": "homo_lr",
                "inputs": {"data": "reader_0.data"},
                "params": {"rounds": 8, "local_epochs": 2, "batch_size": 64, "seed": 3, **homo_lr},
            },
            {"name": "evaluation_0", "component": "evaluation", "inputs": {"data": "homo_lr_0.predictions"}},
        ],
    }


def _csv(table: Any) -> bytes:
    names = list(table.feature_names)
    rows = [[i, *x, int(y)] for i, x, y in zip(table.ids, table.features, table.label, strict=True)]
    return demo_data.csv_bytes(["id", *names, "y"], rows)


@pytest.fixture(scope="module")
def trained(parties: InProcessParties) -> tuple[dict[str, Any], Any, Any, float]:
    data = load_breast_cancer()
    X = (data.data - data.data.mean(axis=0)) / data.data.std(axis=0)
    y = data.target.astype(np.float64)
    guest, host = horizontal_split(X, y, 2, seed=1, id_prefix=ID_PREFIX)
    for t in (guest, host):  # in range, distinctive in bytes, exact after the CSV's 10 digits
        t.features[:, SENTINEL_COLUMN] = [float(f"{0.4142135623 + 1.7e-4 * i:.10g}") for i in range(t.rows)]
    upload(parties.flow("guest"), _csv(guest), namespace="homo", name="guest", label_column="y")
    upload(parties.flow("host"), _csv(host), namespace="homo", name="host", label_column="y")
    X_all, y_all = np.vstack([guest.features, host.features]), np.r_[guest.label, host.label]
    central = LogisticRegression(max_iter=1000).fit(X_all, y_all)
    baseline = float(roc_auc_score(guest.label, central.predict_proba(guest.features)[:, 1]))
    start = len(parties.wire)
    job = submit_and_wait(parties.flow("guest"), homo_job())
    job["wire_from"] = start
    return job, guest, host, baseline


def test_job_reaches_the_centralised_baseline(trained: tuple) -> None:
    job, _, _, baseline = trained
    assert job["state"] == "SUCCEEDED", job["message"]
    auc = task_summary(job, "evaluation_0")["auc"]
    assert auc >= baseline - 0.01, (auc, baseline)
    assert task_summary(job, "homo_lr_0")["rounds"] >= 2


def test_the_arbiter_receives_only_masked_protocol_messages(
    parties: InProcessParties, trained: tuple
) -> None:
    job = trained[0]
    wire = [w for w in parties.wire[job["wire_from"] :] if w.channel == envelope_pb2.CHANNEL_FEDERATION]
    inbound = {w.name for w in wire if w.dst == ARBITER}
    assert {"masked_input", "secagg_reveal"} <= inbound <= ARBITER_INBOUND
    assert not any(w.name == "update" for w in wire)  # the plaintext path was never taken


def test_nothing_private_crosses_a_router(parties: InProcessParties, trained: tuple) -> None:
    job, guest, host, _ = trained
    blob = [
        w.payload for w in parties.wire[job["wire_from"] :] if w.channel == envelope_pb2.CHANNEL_FEDERATION
    ]
    assert len(blob) > 20
    needles: list[tuple[str, bytes]] = [("id prefix", ID_PREFIX.encode())]
    for t in (guest, host):
        needles += [
            (f"sentinel {v}", np.asarray([v], dtype="<f8").tobytes()) for v in t.features[:, SENTINEL_COLUMN]
        ]
        needles += [(f"id {i}", str(i).encode()) for i in t.ids[:100]]
        for start in range(0, 64, 8):
            run = t.label[start : start + 16]
            needles += [
                (f"labels as {dt}", run.astype(dt).tobytes()) for dt in ("<f8", "<f4", "<i8", "<i4", "u1")
            ]
    assert [what for what, n in needles for payload in blob if n in payload] == []


def test_a_job_naming_code_as_its_model_is_refused(parties: InProcessParties) -> None:
    job = homo_job(model="os:system")
    allow_everywhere(job)
    url = parties.flow("guest")
    resp = httpx.post(f"{url}/v1/jobs", content=yaml.safe_dump(job), headers=auth_headers(url), timeout=30)
    assert resp.status_code == 400, resp.text
    assert "model" in resp.text and "Extra inputs are not permitted" in resp.text
