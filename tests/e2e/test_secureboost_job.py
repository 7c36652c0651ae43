"""The SecureBoost job end to end at single-process parties: `reader -> psi -> hetero_secureboost ->
evaluation` reaches the centralised histogram-GBDT baseline, and a tap on every router shows no
host value, bin edge or threshold, no label, id or plaintext gradient crossing, and only fresh or
re-randomised ciphertexts."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from jobs import KEY_BITS, model, submit_and_wait, task_summary
from parties import InProcessParties

from silobridge.federation.v1 import envelope_pb2
from silobridge.ml.quantile import fit_bins
from silobridge.table import Table
from silobridge.testing import wire as decode
from silobridge_cli import demo_data
from silobridge_cli.demo import load_config, upload

pytestmark = [pytest.mark.slow]

SENTINEL_COLUMN = 3
ID_PREFIX = "SBTID"

# What may cross in plaintext, by variable name: PSI's blinded points and positions, then
# SecureBoost's plan, bin counts per anonymous slot and k, node assignments, split requests as
# (node, slot, bin, side), opaque split ids, packed row bits (sampled rows, rows going left,
# reachable leaves), topologies, and the stop flag / trees kept.
ALLOWED_PLAIN: dict[str, tuple[str, ...]] = {
    "psi_guest_blinded": ("tensor",),
    "psi_host_blinded": ("tensor",),
    "psi_host_matches": ("tensor",),  # pairs of places in the two lists: which blinded points matched
    "psi_host_blinded_ack": ("tensor",),  # flow control: the number of a message taken
    "psi_guest_blinded_ack": ("tensor",),
    "psi_host_double": ("tensor",),
    "psi_result": ("tensor",),
    "rows": ("int_value",),
    "plan": ("int_value",),
    "features": ("int_value", "tensor"),
    "gh": ("bool_value", "int_value", "tensor"),
    "nodes": ("tensor",),
    "hist": ("tensor",),
    "split": ("tensor",),
    "split_result": ("tensor",),
    "tree": ("tensor",),
    "leaves": ("tensor",),
}


def _job() -> dict:
    job: dict = copy.deepcopy(load_config("secureboost")["job"])
    for c in job["components"]:
        if c["component"] == "hetero_secureboost":
            c["params"].update({"key_bits": KEY_BITS, "seed": 11})
    return job


@pytest.fixture(scope="module")
def trained(parties: InProcessParties) -> tuple[dict, demo_data.VerticalSplit, bytes]:
    x, y = demo_data.load("breast_cancer")
    split = demo_data.split(x, y, 10, id_prefix=ID_PREFIX)
    host_ids = list(split.x_host)
    sentinels = 0.6180339887 + 1.1e-4 * np.arange(len(host_ids))  # in range, distinctive in bytes
    for i, sentinel in zip(host_ids, sentinels, strict=True):
        split.x_host[i][SENTINEL_COLUMN] = sentinel
    names = [f"h{j}" for j in range(split.host_features)]
    host_csv = demo_data.csv_bytes(["id", *names], [[i, *split.x_host[i]] for i in host_ids])
    upload(parties.flow("guest"), split.guest_csv, namespace="demo", name="guest", label_column="y")
    upload(parties.flow("host"), host_csv, namespace="demo", name="host")
    job = submit_and_wait(parties.flow("guest"), _job())
    return job, split, host_csv


def test_secureboost_job_reaches_the_centralised_baseline(trained: tuple) -> None:
    job, split, _ = trained
    assert job["state"] == "SUCCEEDED", job["message"]
    params = next(c["params"] for c in _job()["components"] if c["component"] == "hetero_secureboost")
    baseline = demo_data.baseline_auc_gbdt(split, params)
    auc = task_summary(job, "evaluation_0")["auc"]
    assert abs(auc - baseline) < 0.005, (auc, baseline)


def test_nothing_private_crosses_a_router_during_secureboost(
    parties: InProcessParties, trained: tuple
) -> None:
    job, split, host_csv = trained
    wire = [w for w in parties.wire if w.channel == envelope_pb2.CHANNEL_FEDERATION]
    assert {w.name for w in wire} >= {"gh", "hist", "split_result", "leaves"}, "the tap saw the SBT traffic"
    blob = [w.payload for w in wire]

    # The host's values as it parsed them from its upload (the CSV rounds), on the shared rows.
    host_table = Table.from_csv(host_csv, id_column="id")
    common = set(split.common_ids)
    host_rows = host_table.features[[i for i, row_id in enumerate(host_table.ids) if row_id in common]]
    edges, _ = fit_bins(host_rows, 32)
    host_model = model(parties.flow("host"), job["job_id"], "hetero_secureboost_0")
    thresholds = np.asarray(host_model["threshold"])
    thresholds = thresholds[np.isfinite(thresholds)]
    assert thresholds.size, "the host's features were split on"
    assert set(thresholds.tolist()) <= set(np.concatenate(edges).tolist()), "the edges are the host's own"
    secret = np.concatenate([host_rows[:, SENTINEL_COLUMN], *edges, thresholds])
    needles: list[tuple[str, bytes]] = [
        ("host value/edge/threshold <f8", np.float64(v).tobytes()) for v in secret
    ]
    needles += [("host value/edge/threshold >f8", np.asarray(v, dtype=">f8").tobytes()) for v in secret]
    ids = list(split.x_guest) + list(split.x_host)
    needles += [(f"id {i}", i.encode()) for i in ids[:200]] + [("id prefix", ID_PREFIX.encode())]
    labels = np.array([split.y[i] for i in split.common_ids])
    p0 = float(labels.mean())
    gradients = p0 - labels  # the first tree's g in intersection order
    for start in range(0, 96, 8):
        run = labels[start : start + 16]
        if run.min() == run.max():
            continue
        for dt in ("<f8", "<f4", "<i8", "<i4", "u1", "?"):
            needles.append((f"labels[{start}:] as {dt}", run.astype(dt).tobytes()))
        needles.append((f"g[{start}:]", gradients[start : start + 16].astype("<f8").tobytes()))
    hits = [(what, i) for what, needle in needles for i, payload in enumerate(blob) if needle in payload]
    assert hits == []

    found = [(w.name, v) for w in wire for v in decode.values(w.payload)]
    moduli = [
        int.from_bytes(v.paillier_public_key.n, "big") for _, v in found if v.HasField("paillier_public_key")
    ]
    for name, v in found:
        kind = v.WhichOneof("kind")
        if kind not in ("map", "list", "paillier_vector", "paillier_public_key"):
            what = v.scalar.WhichOneof("value") if kind == "scalar" else kind
            assert what in ALLOWED_PLAIN.get(name, ()), f"{name!r} crossed as plain {what}"
    ciphertexts = decode.ciphertexts(v for _, v in found)
    assert len(ciphertexts) > 1000
    assert len(set(ciphertexts)) == len(ciphertexts), "a ciphertext was sent twice"
    assert len(moduli) == 1, "the guest's public key crossed once"
    assert not any(c % moduli[0] == 1 for c in ciphertexts), "an unrandomised ciphertext crossed"


def test_predict_with_the_stored_models_matches_training(parties: InProcessParties, trained: tuple) -> None:
    """``hetero_secureboost_predict`` with each party's own model (hosts send only leaf masks)."""
    job = _job()
    job["components"] = [c for c in job["components"] if c["component"] != "evaluation"] + [
        {
            "name": "predict_0",
            "component": "hetero_secureboost_predict",
            "inputs": {"data": "psi_0.data", "model": "hetero_secureboost_0.model"},
        },
        {
            "name": "eval_train",
            "component": "evaluation",
            "inputs": {"data": "hetero_secureboost_0.predictions"},
        },
        {"name": "eval_predict", "component": "evaluation", "inputs": {"data": "predict_0.predictions"}},
    ]
    done = submit_and_wait(parties.flow("guest"), job)
    assert done["state"] == "SUCCEEDED", done["message"]
    assert task_summary(done, "eval_predict")["auc"] == pytest.approx(
        task_summary(done, "eval_train")["auc"], abs=1e-12
    )
    assert task_summary(done, "eval_predict")["auc"] > 0.99
