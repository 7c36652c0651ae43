"""Online serving end to end (issue 14): the demo's hetero_lr job trained at three in-process
parties, deployed with ``silobridge model deploy`` at the guest and the host, scored at the guest's
endpoint through the routers.

What a user notices: the online score of an id equals the batch ``predict`` score (1e-9); a host
that never deployed a model refuses it; only ids and partial scores cross the routers; a new
version swaps in under load with no failed request; rollback brings the old one back; a dead host
serving is named within the timeout. A hetero_secureboost model scores online as
``hetero_secureboost_predict`` does, with only ids and the host's leaf masks crossing.
"""

from __future__ import annotations

import asyncio
import copy
import struct
import threading
import time
from typing import Any

import httpx
import numpy as np
import pytest
from jobs import KEY_BITS, model, submit_and_wait, vertical_job
from parties import InProcessParties

from silobridge.federation.v1 import envelope_pb2
from silobridge.serving.v1 import serving_pb2
from silobridge_cli import demo_data
from silobridge_cli.demo import load_config, upload
from silobridge_cli.demo_serve import ServingRows, batch_predict
from silobridge_cli.main import main as cli

pytestmark = [pytest.mark.slow]

GUEST, HOST = 9999, 10000
SAMPLE = 8


def serving_url(parties: InProcessParties, role: str) -> str:
    return parties.parties[parties.roles[role]].services["serving"].url


def deploy(
    parties: InProcessParties,
    role: str,
    job_id: str,
    *extra: str,
    task: str = "hetero_lr_0",
    table: str = "demo.host",
) -> None:
    args = ["model", "deploy", job_id, task, "--flow", parties.flow(role)]
    args += ["--serving", serving_url(parties, role), *extra]
    if role == "host":
        args += ["--feature-table", table]
    assert cli(args) == 0


def score(
    parties: InProcessParties, entity: str, features: dict[str, float], name: str = "default"
) -> httpx.Response:
    return httpx.post(
        f"{serving_url(parties, 'guest')}/v1/score/{name}",
        json={"id": entity, "features": features},
        timeout=30,
    )


Data = ServingRows  # the rows both parties hold, aligned (shared with `silobridge demo --serve`)


def tap_scoring(
    parties: InProcessParties, data: Data, asked: list[str], name: str
) -> tuple[list[Any], list[Any]]:
    """Score ``asked`` under ``name`` with the tap cleared: (requests, replies) that crossed, which
    is everything on the serving channel."""
    parties.wire.clear()
    for entity in asked:
        assert score(parties, entity, data.features(entity), name=name).status_code == 200
    time.sleep(0.2)
    crossed = [w for w in parties.wire if w.channel == envelope_pb2.CHANNEL_SERVING]
    requests = [w for w in crossed if w.src == GUEST and w.dst == HOST]
    replies = [w for w in crossed if w.src == HOST and w.dst == GUEST]
    assert requests and replies and len(requests) + len(replies) == len(crossed)
    return requests, replies


@pytest.fixture(scope="module")
def served(parties: InProcessParties) -> dict[str, Any]:
    split = demo_data.split(*demo_data.load("breast_cancer"), 10)
    upload(parties.flow("guest"), split.guest_csv, namespace="demo", name="guest", label_column="y")
    upload(parties.flow("host"), split.host_csv, namespace="demo", name="host")
    job = submit_and_wait(parties.flow("guest"), vertical_job(epochs=3))
    assert job["state"] == "SUCCEEDED", job["message"]
    deploy(parties, "host", job["job_id"])
    deploy(parties, "guest", job["job_id"])
    data = Data(split)
    flows = {role: parties.flow(role) for role in ("guest", "host")}
    return {
        "job": job["job_id"],
        "data": data,
        "expected": batch_predict(flows, {"guest": GUEST, "host": HOST}, job["job_id"], "hetero_lr_0", data),
    }


def test_online_score_equals_batch_predict(parties: InProcessParties, served: dict[str, Any]) -> None:
    data: Data = served["data"]
    for entity in data.ids[:SAMPLE]:
        resp = score(parties, entity, data.features(entity))
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["score"] == pytest.approx(served["expected"][entity], abs=1e-9)
        assert body["model"] == {
            "name": "default",
            "version": 1,
            "job_id": served["job"],
            "task": "hetero_lr_0",
        }


def test_only_ids_and_partial_scores_cross_the_routers(
    parties: InProcessParties, served: dict[str, Any]
) -> None:
    data: Data = served["data"]
    asked = data.ids[SAMPLE : 2 * SAMPLE]
    requests, replies = tap_scoring(parties, data, asked, "default")
    sent_ids: list[str] = []
    for w in requests:
        assert w.name == "score_request"
        req = serving_pb2.ScoreRequest.FromString(w.payload)
        assert {f.name for f, _ in req.ListFields()} <= {"request_id", "model", "ids"}
        sent_ids += list(req.ids)
    assert sorted(sent_ids) == sorted(asked)
    for w in replies:
        assert w.name == "score_reply"
        rep = serving_pb2.ScoreReply.FromString(w.payload)
        assert {f.name for f, _ in rep.ListFields()} <= {"request_id", "partial_scores"}
    # No guest feature, host feature or label of the asked ids crosses, in any encoding we can think of.
    k = [data.ids.index(i) for i in asked]
    secrets = [
        *data.guest.features[k].ravel(),
        *data.host.features[k].ravel(),
        *np.asarray(data.guest.label)[k],
    ]
    wire = b"".join(w.payload for w in parties.wire if w.channel == envelope_pb2.CHANNEL_SERVING)
    for v in secrets:
        if v not in (0.0, 1.0):
            assert struct.pack("<d", v) not in wire and repr(float(v)).encode() not in wire


def _second_version(parties: InProcessParties, served: dict[str, Any]) -> str:
    if "job2" not in served:
        job = submit_and_wait(parties.flow("guest"), vertical_job(epochs=1, learning_rate=0.05))
        assert job["state"] == "SUCCEEDED", job["message"]
        served["job2"] = job["job_id"]
    return str(served["job2"])


def test_host_answers_only_models_its_operator_deployed(
    parties: InProcessParties, served: dict[str, Any]
) -> None:
    job2 = _second_version(parties, served)
    data: Data = served["data"]
    deploy(parties, "guest", job2, "--name", "early")  # the host's operator has not deployed job2
    resp = httpx.post(
        f"{serving_url(parties, 'guest')}/v1/score/early",
        json={"id": data.ids[0], "features": data.features(data.ids[0])},
        timeout=30,
    )
    assert resp.status_code == 502, resp.text
    message = resp.json()["error"]["message"]
    assert f"host {HOST}" in message and "not deployed" in message


def test_new_version_swaps_in_under_load_and_rolls_back(
    parties: InProcessParties, served: dict[str, Any]
) -> None:
    job2 = _second_version(parties, served)
    data: Data = served["data"]
    seen: dict[int, int] = {}
    failures: list[str] = []
    stop = threading.Event()

    async def load() -> None:
        async with httpx.AsyncClient(timeout=30) as client:

            async def worker(w: int) -> None:
                n = w
                while not stop.is_set():
                    entity = data.ids[n % len(data.ids)]
                    n += 8
                    r = await client.post(
                        f"{serving_url(parties, 'guest')}/v1/score/default",
                        json={"id": entity, "features": data.features(entity)},
                    )
                    if r.status_code != 200:
                        failures.append(r.text)
                    else:
                        v = r.json()["model"]["version"]
                        seen[v] = seen.get(v, 0) + 1

            await asyncio.gather(*(worker(w) for w in range(8)))

    loader = threading.Thread(target=asyncio.run, args=(load(),))
    loader.start()
    try:
        time.sleep(1.0)
        deploy(parties, "host", job2)  # the host first: it keeps answering for version 1 too
        deploy(parties, "guest", job2)
        time.sleep(1.0)
    finally:
        stop.set()
        loader.join(30)
    assert not failures, failures[:3]
    assert seen.get(1, 0) > 0 and seen.get(2, 0) > 0, seen
    entity = data.ids[0]
    v2 = score(parties, entity, data.features(entity)).json()
    assert v2["model"]["version"] == 2 and v2["model"]["job_id"] == job2
    assert cli(["model", "rollback", "default", "--serving", serving_url(parties, "guest")]) == 0
    back = score(parties, entity, data.features(entity)).json()
    assert back["model"]["version"] == 1
    assert back["score"] == pytest.approx(served["expected"][entity], abs=1e-9)


SBT = "hetero_secureboost_0"


@pytest.fixture(scope="module")
def sbt_served(parties: InProcessParties) -> dict[str, Any]:
    """A small SecureBoost (3 trees of depth 3) on its own copy of the demo tables, deployed at the
    host (its table as the online feature table) and then at the guest under the name ``sbt``."""
    split = demo_data.split(*demo_data.load("breast_cancer"), 10)
    upload(parties.flow("guest"), split.guest_csv, namespace="sbt", name="guest", label_column="y")
    upload(parties.flow("host"), split.host_csv, namespace="sbt", name="host")
    job_spec: dict[str, Any] = copy.deepcopy(load_config("secureboost")["job"])
    for c in job_spec["components"]:
        if c["component"] == "reader":
            c["role_params"] = {
                "guest": {"table": "sbt.guest", "require_label": True},
                "host": {"table": "sbt.host"},
            }
        if c["component"] == "hetero_secureboost":
            c["params"].update({"num_trees": 3, "max_depth": 3, "key_bits": KEY_BITS, "seed": 11})
    job = submit_and_wait(parties.flow("guest"), job_spec)
    assert job["state"] == "SUCCEEDED", job["message"]
    deploy(parties, "host", job["job_id"], "--name", "sbt", task=SBT, table="sbt.host")
    deploy(parties, "guest", job["job_id"], "--name", "sbt", task=SBT)
    data = Data(split)
    flows = {role: parties.flow(role) for role in ("guest", "host")}
    parties_ = {"guest": GUEST, "host": HOST}
    expected = batch_predict(flows, parties_, job["job_id"], SBT, data, "hetero_secureboost_predict")
    return {"job": job["job_id"], "data": data, "expected": expected}


def test_secureboost_online_score_equals_batch_predict(
    parties: InProcessParties, sbt_served: dict[str, Any]
) -> None:
    data: Data = sbt_served["data"]
    scores = []
    for entity in data.ids[:SAMPLE]:
        resp = score(parties, entity, data.features(entity), name="sbt")
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["score"] == pytest.approx(sbt_served["expected"][entity], abs=1e-9)
        assert body["model"] == {"name": "sbt", "version": 1, "job_id": sbt_served["job"], "task": SBT}
        scores.append(body["score"])
    assert len(set(scores)) > 1, "the sampled ids reach different leaves"


def test_secureboost_only_ids_and_leaf_masks_cross_the_routers(
    parties: InProcessParties, sbt_served: dict[str, Any]
) -> None:
    data: Data = sbt_served["data"]
    guest_model = model(parties.flow("guest"), sbt_served["job"], SBT)
    host_model = model(parties.flow("host"), sbt_served["job"], SBT)
    leaves = int(np.count_nonzero(np.asarray(guest_model["left"]) < 0))
    assert np.any(np.asarray(host_model["feature"]) >= 0), "the host's features were split on"
    asked = data.ids[SAMPLE : 2 * SAMPLE]
    requests, replies = tap_scoring(parties, data, asked, "sbt")
    sent_ids: list[str] = []
    for w in requests:
        req = serving_pb2.ScoreRequest.FromString(w.payload)
        assert {f.name for f, _ in req.ListFields()} <= {"request_id", "model", "ids"}
        assert (req.model.job_id, req.model.task) == (sbt_served["job"], SBT)
        sent_ids += list(req.ids)
    assert sorted(sent_ids) == sorted(asked)
    for w in replies:
        rep = serving_pb2.ScoreReply.FromString(w.payload)
        assert {f.name for f, _ in rep.ListFields()} == {"request_id", "leaf_masks"}
        assert all(len(m) == (leaves + 7) // 8 for m in rep.leaf_masks)  # one bit per leaf, no more
    # No feature value (either party's), host threshold or label crosses.
    k = [data.ids.index(i) for i in asked]
    thresholds = np.asarray(host_model["threshold"], dtype=np.float64)
    secrets = [
        *data.guest.features[k].ravel(),
        *data.host.features[k].ravel(),
        *thresholds[np.isfinite(thresholds)],
        *np.asarray(data.guest.label)[k],
    ]
    wire = b"".join(w.payload for w in requests + replies)
    for v in secrets:
        if v not in (0.0, 1.0):
            assert struct.pack("<d", v) not in wire and repr(float(v)).encode() not in wire


# Last in the module: it restarts the host's serving, after which `model deploy` finds no admin token for it.
def test_a_dead_host_is_named_within_the_timeout(parties: InProcessParties, served: dict[str, Any]) -> None:
    data: Data = served["data"]
    host = parties.parties[HOST]
    parties.run(host.stop_service("serving"))
    try:
        started = time.monotonic()
        resp = score(parties, data.ids[1], data.features(data.ids[1]))
        took = time.monotonic() - started
        assert resp.status_code == 504, resp.text
        assert f"host {HOST} did not answer within 2 s" in resp.json()["error"]["message"]
        assert took < 2.0 + 1.5
    finally:
        parties.run(host.restart_service("serving"))
    resp = score(parties, data.ids[1], data.features(data.ids[1]))
    assert resp.status_code == 200, resp.text  # the restarted host serves its kept versions
