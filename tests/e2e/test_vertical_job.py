"""The main job end to end at three single-process parties: it trains to the centralised
baseline, every service counts its messages, and nothing private crosses a router."""

from __future__ import annotations

import re

import httpx
import numpy as np
import pytest
from jobs import submit_and_wait, task_summary, vertical_job
from parties import InProcessParties

from silobridge.federation.v1 import envelope_pb2, values_pb2
from silobridge_cli import demo_data
from silobridge_cli.credentials import auth_headers
from silobridge_cli.demo import upload

pytestmark = [pytest.mark.slow]

SENTINEL_COLUMN = 3

# What may cross in plaintext, by variable name; everything else must be a Paillier ciphertext
# vector or public key. Blinded PSI points, positions in the intersection (shared by both sides
# after PSI), the batch plan, the arbiter's decrypted *masked* gradients, the loss and stop flag,
# and the hosts' partial scores of the standard hetero-LR predict.
ALLOWED_PLAIN: dict[str, tuple[str, ...]] = {
    "psi_guest_blinded": ("tensor",),
    "psi_host_blinded": ("tensor",),
    "psi_host_matches": ("tensor",),  # pairs of places in the two lists: which blinded points matched
    "psi_host_blinded_ack": ("tensor",),  # flow control: the number of a message taken
    "psi_guest_blinded_ack": ("tensor",),
    "psi_host_double": ("tensor",),  # the host's blinded ids, blinded again by the guest
    "psi_result": ("tensor",),
    "rows": ("int_value",),
    "plan": ("int_value",),
    "features": ("int_value",),  # a party's feature count, declared to the arbiter
    "gradient": ("tensor",),
    "stop": ("bool_value", "float_value"),
    "partial_scores": ("tensor",),
}
ID_PREFIX = "SNTLID"


@pytest.fixture(scope="module")
def trained(parties: InProcessParties) -> tuple[dict, demo_data.VerticalSplit, np.ndarray]:
    x, y = demo_data.load("breast_cancer")
    split = demo_data.split(x, y, 10, id_prefix=ID_PREFIX)
    host_ids = list(split.x_host)
    # In the range of the standardised columns (so training is unaffected), distinctive in bytes.
    sentinels = 0.6180339887 + 1.1e-4 * np.arange(len(host_ids))
    for i, sentinel in zip(host_ids, sentinels, strict=True):
        split.x_host[i][SENTINEL_COLUMN] = sentinel
    names = [f"h{j}" for j in range(split.host_features)]
    host_csv = demo_data.csv_bytes(["id", *names], [[i, *split.x_host[i]] for i in host_ids])
    upload(parties.flow("guest"), split.guest_csv, namespace="demo", name="guest", label_column="y")
    upload(parties.flow("host"), host_csv, namespace="demo", name="host")
    job = submit_and_wait(parties.flow("guest"), vertical_job())
    return job, split, sentinels


def test_job_reaches_the_centralised_baseline(
    trained: tuple[dict, demo_data.VerticalSplit, np.ndarray],
) -> None:
    job, split, _ = trained
    assert job["state"] == "SUCCEEDED", job["message"]
    assert task_summary(job, "psi_0")["intersected_rows"] == len(split.common_ids)
    auc = task_summary(job, "evaluation_0")["auc"]
    baseline = demo_data.baseline_auc(split)
    assert auc > 0.97
    assert abs(auc - baseline) <= 0.01, (auc, baseline)


def test_every_party_sees_the_job_succeed(parties: InProcessParties, trained: tuple) -> None:
    job_id = trained[0]["job_id"]
    for role in ("guest", "host", "arbiter"):
        url = parties.flow(role)
        detail = httpx.get(f"{url}/v1/jobs/{job_id}", headers=auth_headers(url)).json()
        assert detail["state"] == "SUCCEEDED", (role, detail["message"])


def test_every_service_counts_messages(parties: InProcessParties, trained: tuple) -> None:
    for name, url in parties.service_urls().items():
        if name.startswith("serving@"):
            continue  # it uses the bus once a model is deployed (tests/e2e/test_serving.py)
        text = httpx.get(f"{url}/metrics").text
        counts = [
            float(v)
            for v in re.findall(r'^silobridge_bus_messages_total\{[^}]*outcome="ok"[^}]*\} (\S+)', text, re.M)
        ]
        assert sum(counts) > 0, f"{name} /metrics shows no bus messages"
        if name.startswith("rollsite-router"):
            sent = re.findall(
                r'^silobridge_router_messages_total\{[^}]*direction="out"[^}]*\} (\S+)', text, re.M
            )
            assert sum(float(v) for v in sent) > 0, f"{name} sent nothing to peers"


def _values(payload: bytes) -> list[values_pb2.Value]:
    root = values_pb2.Value()
    root.ParseFromString(payload)
    out, stack = [], [root]
    while stack:
        v = stack.pop()
        out.append(v)
        kind = v.WhichOneof("kind")
        if kind == "map":
            stack.extend(v.map.items.values())
        elif kind == "list":
            stack.extend(v.list.items)
    return out


def test_nothing_private_crosses_a_router(parties: InProcessParties, trained: tuple) -> None:
    _, split, sentinels = trained
    wire = [w for w in parties.wire if w.channel == envelope_pb2.CHANNEL_FEDERATION]
    assert len(wire) > 20, "the tap saw the job's traffic"
    blob = [w.payload for w in wire]

    # float64 sentinels are 8 bytes: one hit is a leak. A float32 is only 4 bytes, which random
    # ciphertext bytes contain by chance (~1e-6 per value and KB), so a leaked column shows as
    # several distinct sentinels in one payload: count payloads with 3 or more.
    f32 = [np.asarray(v, dtype="<f4").tobytes() for v in sentinels]
    f32_hits = [i for i, payload in enumerate(blob) if sum(n in payload for n in f32) >= 3]
    assert f32_hits == [], "host feature sentinels (float32) crossed"
    needles: list[tuple[str, bytes]] = [
        ("feature sentinel <f8", np.asarray(v, dtype="<f8").tobytes()) for v in sentinels
    ]
    ids = list(split.x_guest) + list(split.x_host)
    needles += [(f"id {i}", i.encode()) for i in ids[:200]] + [("id prefix", ID_PREFIX.encode())]
    needles += [("id utf-32", np.asarray([ids[0]]).tobytes())]
    labels = np.array([split.y[i] for i in split.x_guest])
    for start in range(0, 64, 8):
        run = labels[start : start + 16]
        for dt in ("<f8", "<f4", "<i8", "<i4", "u1", "?"):
            needles.append((f"labels[{start}:] as {dt}", run.astype(dt).tobytes()))
    hits = [(what, i) for what, needle in needles for i, payload in enumerate(blob) if needle in payload]
    assert hits == []

    ciphertexts: list[int] = []
    moduli: list[int] = []
    for w in wire:
        for v in _values(w.payload):
            kind = v.WhichOneof("kind")
            if kind == "paillier_public_key":
                moduli.append(int.from_bytes(v.paillier_public_key.n, "big"))
            elif kind == "paillier_vector":
                pv = v.paillier_vector
                ciphertexts += [
                    int.from_bytes(pv.data[i : i + pv.width], "big") for i in range(0, len(pv.data), pv.width)
                ]
            elif kind in ("map", "list"):
                continue
            else:
                what = v.scalar.WhichOneof("value") if kind == "scalar" else kind
                assert what in ALLOWED_PLAIN.get(w.name, ()), f"{w.name!r} crossed as plain {what}"
    assert len(ciphertexts) > 1000
    assert len(set(ciphertexts)) == len(ciphertexts), "a ciphertext was sent twice"
    assert moduli, "the arbiter's public key crossed"
    for n in moduli:
        # 1 + m*n mod n^2 is congruent to 1 mod n: a randomised ciphertext never is (but with negligible odds).
        assert not any(c % n == 1 for c in ciphertexts), "an unrandomised ciphertext crossed"


def test_predict_scores_rows_with_the_trained_models(parties: InProcessParties, trained: tuple) -> None:
    """``predict`` with each party's own model (hosts send only partial scores) matches training."""
    job = vertical_job(epochs=2)
    job["components"] = [c for c in job["components"] if c["component"] != "evaluation"] + [
        {
            "name": "predict_0",
            "component": "predict",
            "inputs": {"data": "psi_0.data", "model": "hetero_lr_0.model"},
        },
        {"name": "eval_train", "component": "evaluation", "inputs": {"data": "hetero_lr_0.predictions"}},
        {"name": "eval_predict", "component": "evaluation", "inputs": {"data": "predict_0.predictions"}},
    ]
    done = submit_and_wait(parties.flow("guest"), job)
    assert done["state"] == "SUCCEEDED", done["message"]
    auc_train = task_summary(done, "eval_train")["auc"]
    auc_predict = task_summary(done, "eval_predict")["auc"]
    assert auc_predict > 0.97
    assert auc_predict == pytest.approx(auc_train, abs=1e-9)
