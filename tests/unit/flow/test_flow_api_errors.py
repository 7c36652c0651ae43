"""What the schemathesis run found in flow's API, each pinned by a test: a 405 without the
methods of its path, an unauthenticated body error answered 400 instead of 401, unknown query
parameters silently ignored, an empty PUT /v1/policy that reset the policy, and a spec that
promised FastAPI's 422 where flow answers 400."""

from __future__ import annotations

import pytest
from flow_support import Cluster

GUEST = 9999


@pytest.fixture
async def one(cluster: Cluster) -> Cluster:
    await cluster.add_party(GUEST, tables=("demo.guest",))
    await cluster.start_flow(GUEST)
    return cluster


async def test_a_405_lists_every_method_of_the_path(one: Cluster) -> None:
    resp = await one.client(GUEST).request("PATCH", "/v1/tokens")
    assert resp.status_code == 405
    assert set(resp.headers["allow"].split(", ")) >= {"GET", "POST"}
    resp = await one.client(GUEST).request("DELETE", "/v1/policy")
    assert resp.status_code == 405 and {"GET", "PUT"} <= set(resp.headers["allow"].split(", "))


async def test_a_body_flow_cannot_parse_is_a_401_without_a_token_and_a_403_for_a_weak_role(
    one: Cluster,
) -> None:
    bad_json = {"content": b"{not json", "headers": {"content-type": "application/json"}}
    anonymous = await one.client(GUEST, token=None).post("/v1/tokens", **bad_json)  # type: ignore[arg-type]
    assert anonymous.status_code == 401, anonymous.text
    assert anonymous.json()["error"]["code"] == "unauthenticated"
    viewer = await one.client(GUEST, token=one.token(GUEST, "viewer")).post("/v1/tokens", **bad_json)  # type: ignore[arg-type]
    assert viewer.status_code == 403, viewer.text
    admin = await one.client(GUEST).post("/v1/tokens", **bad_json)  # type: ignore[arg-type]
    assert admin.status_code == 400 and admin.json()["error"]["code"] == "invalid_input"


async def test_an_unknown_query_parameter_is_refused_by_name(one: Cluster) -> None:
    resp = await one.client(GUEST).get("/v1/jobs", params={"limt": "5"})
    assert resp.status_code == 400
    assert resp.json()["error"]["message"] == "unknown query parameter 'limt' (this route accepts: limit)"
    assert (await one.client(GUEST).get("/v1/jobs", params={"limit": "5"})).status_code == 200
    # a caller without a token learns nothing about the route's parameters
    assert (await one.client(GUEST, token=None).get("/v1/jobs", params={"limt": "5"})).status_code == 401


async def test_an_empty_policy_is_refused_and_the_policy_stays(one: Cluster) -> None:
    client = one.client(GUEST)
    before = (await client.get("/v1/policy")).json()
    assert before["source"] == "database" and before["text"]
    resp = await client.put("/v1/policy", content=b"  \n", headers={"content-type": "application/yaml"})
    assert resp.status_code == 400 and "policy is empty" in resp.json()["error"]["message"]
    assert (await client.get("/v1/policy")).json() == before


async def test_the_spec_documents_400_not_fastapis_422(one: Cluster) -> None:
    spec = (await one.client(GUEST).get("/openapi.json")).json()
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            codes = set(op["responses"])
            if path.startswith("/v1"):
                assert {"401", "403"} <= codes, (method, path)
            if op.get("parameters") or op.get("requestBody"):
                assert "400" in codes, (method, path)
            if "422" in codes:  # only a refusal by the cluster, in flow's error shape
                schema = op["responses"]["422"]["content"]["application/json"]["schema"]
                assert "error" in schema["properties"], (method, path)
