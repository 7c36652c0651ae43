"""Who may act on flow's API: bearer tokens with roles, stored as digests, revocable; 401/403
name what is missing and change nothing."""

from __future__ import annotations

import sqlite3
import stat

import pytest
from flow_support import Cluster, eventually, two_party_job

from silobridge.observability.http import make_app

GUEST, HOST = 9999, 10000
CSV = b"id,x,y\na,1,0\nb,2,1\n"
UPLOAD = "/v1/data/upload?namespace=demo&name=up&id_column=id&label_column=y"


@pytest.fixture
async def two(cluster: Cluster) -> Cluster:
    await cluster.add_party(GUEST, tables=("demo.guest",))
    await cluster.add_party(HOST, tables=("demo.host",))
    await cluster.start_flow(GUEST)
    await cluster.start_flow(HOST)
    return cluster


def db_counts(c: Cluster, party: int = GUEST) -> dict[str, int]:
    with sqlite3.connect(c.tmp_path / f"p{party}" / "flow.sqlite") as db:
        return {
            t: int(db.execute(f"SELECT COUNT(*) FROM flow_{t}").fetchone()[0])
            for t in ("jobs", "tasks", "parties", "tokens", "audit", "policy")
        }


BIND = b'{"namespace": "bank", "name": "b", "kind": "parquet", "location": "/srv/t", "id_column": "id"}'

# Every route that changes or reads party state, with a body that would succeed with admin rights.
ROUTES = [
    ("POST", "/v1/jobs", two_party_job("x").encode()),
    ("GET", "/v1/jobs", b""),
    ("GET", "/v1/jobs/x", b""),
    ("POST", "/v1/jobs/x/stop", b""),
    ("GET", "/v1/jobs/x/tasks/t/metrics", b""),
    ("GET", "/v1/jobs/x/tasks/t/log", b""),
    ("GET", "/v1/models", b""),
    ("GET", "/v1/jobs/x/models", b""),
    ("GET", "/v1/jobs/x/models/t", b""),
    ("POST", UPLOAD, CSV),
    ("GET", "/v1/tables", b""),
    ("POST", "/v1/tables/bind", BIND),
    ("GET", "/v1/tables/demo/guest", b""),
    ("GET", "/v1/approvals", b""),
    ("POST", "/v1/jobs/x/approve", b""),
    ("POST", "/v1/jobs/x/refuse", b""),
    ("GET", "/v1/tokens", b""),
    ("POST", "/v1/tokens", b'{"name": "intruder", "role": "admin"}'),
    ("DELETE", "/v1/tokens/bootstrap-admin", b""),
    ("GET", "/v1/policy", b""),
    ("PUT", "/v1/policy", b'peers: {"*": {components: "*", tables: ["*"]}}'),
    ("GET", "/v1/audit", b""),
]


async def test_every_api_route_is_covered(two: Cluster) -> None:
    """The list above is every /v1 route, so a new route cannot slip out of these tests."""
    spec = two.flows[GUEST].app.openapi()  # type: ignore[attr-defined]
    routes = {(m.upper(), p) for p, ops in spec["paths"].items() if p.startswith("/v1") for m in ops}
    normalised = {
        (
            m,
            p.replace("{task}", "t")
            .replace("{job_id}", "x")
            .replace("{token}", "bootstrap-admin")
            .replace("{namespace}/{name}", "demo/guest"),
        )
        for m, p in routes
    }
    assert normalised == {(m, p.split("?")[0]) for m, p, _ in ROUTES}


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
async def test_no_token_is_401_naming_it_and_changes_nothing(
    two: Cluster, method: str, path: str, body: bytes
) -> None:
    before = db_counts(two)
    for headers, message in [
        ({}, "missing bearer token (Authorization: Bearer <token>)"),
        ({"Authorization": "Bearer sbt_guessed"}, "unknown bearer token"),
        ({"Authorization": "Basic YWRtaW46YWRtaW4="}, "missing bearer token (Authorization: Bearer <token>)"),
    ]:
        r = await two.client(GUEST, token=None).request(method, path, content=body, headers=headers)
        assert r.status_code == 401, r.text
        assert r.json()["error"] == {"code": "unauthenticated", "message": message}
        assert r.headers["www-authenticate"] == "Bearer"
    assert db_counts(two) == before
    assert two.router.sent == []  # nothing proposed to any party
    assert not [
        c for c in two.parties[GUEST].commands if c.WhichOneof("command") in ("store_table", "bind_table")
    ]


@pytest.mark.parametrize(
    ("role", "method", "path", "body", "message"),
    [
        ("viewer", "POST", "/v1/jobs", two_party_job("x").encode(), "role viewer may not submit, stop or approve jobs"),
        ("data-owner", "POST", "/v1/jobs", two_party_job("x").encode(), "role data-owner may not submit, stop or approve jobs"),
        ("viewer", "POST", UPLOAD, CSV, "role viewer may not upload or bind tables"),
        ("operator", "POST", UPLOAD, CSV, "role operator may not upload or bind tables"),
        ("viewer", "POST", "/v1/tables/bind", BIND, "role viewer may not upload or bind tables"),
        ("operator", "POST", "/v1/tables/bind", BIND, "role operator may not upload or bind tables"),
        ("operator", "POST", "/v1/tokens", b'{"name": "mine", "role": "admin"}', "role operator may not manage tokens, policy or the audit log"),
        ("data-owner", "PUT", "/v1/policy", b"default: hold", "role data-owner may not manage tokens, policy or the audit log"),
        ("viewer", "GET", "/v1/audit", b"", "role viewer may not manage tokens, policy or the audit log"),
        ("viewer", "POST", "/v1/jobs/x/approve", b"", "role viewer may not submit, stop or approve jobs"),
    ],
)  # fmt: skip
async def test_wrong_role_is_403_naming_role_and_action_and_changes_nothing(
    two: Cluster, role: str, method: str, path: str, body: bytes, message: str
) -> None:
    client = two.client(GUEST, token=two.token(GUEST, role))
    before = db_counts(two)
    r = await client.request(method, path, content=body)
    assert r.status_code == 403, r.text
    assert r.json()["error"] == {"code": "permission_denied", "message": message}
    assert db_counts(two) == before
    assert two.router.sent == []
    assert not [
        c for c in two.parties[GUEST].commands if c.WhichOneof("command") in ("store_table", "bind_table")
    ]


async def test_each_role_does_what_it_is_for(two: Cluster) -> None:
    viewer = two.client(GUEST, token=two.token(GUEST, "viewer"))
    operator = two.client(GUEST, token=two.token(GUEST, "operator"))
    owner = two.client(GUEST, token=two.token(GUEST, "data-owner"))
    assert (await owner.post(UPLOAD, content=CSV)).status_code == 201
    assert (await operator.post("/v1/jobs", content=two_party_job("j1"))).status_code == 201
    await eventually(lambda: two.flows[GUEST].store.get_job("j1").state == "SUCCEEDED")  # type: ignore[union-attr]
    assert [j["job_id"] for j in (await viewer.get("/v1/jobs")).json()["jobs"]] == ["j1"]
    assert (await viewer.get("/v1/jobs/j1")).json()["state"] == "SUCCEEDED"
    assert (await viewer.get("/v1/tables")).status_code == 200
    assert (await viewer.get("/v1/policy")).json()["source"] == "database"


async def test_tokens_are_stored_as_digests_and_revocation_is_immediate(two: Cluster) -> None:
    admin = two.client(GUEST)
    created = await admin.post("/v1/tokens", json={"name": "ci-bot", "role": "operator"})
    assert created.status_code == 201, created.text
    secret = created.json()["token"]
    assert secret.startswith("sbt_") and len(secret) >= 40
    bot = two.client(GUEST, token=secret)
    assert (await bot.get("/v1/jobs")).status_code == 200

    raw = (two.tmp_path / f"p{GUEST}" / "flow.sqlite").read_bytes()
    wal = two.tmp_path / f"p{GUEST}" / "flow.sqlite-wal"
    raw += wal.read_bytes() if wal.exists() else b""
    assert secret.encode() not in raw and two.admin_tokens[GUEST].encode() not in raw
    listed = (await admin.get("/v1/tokens")).json()["tokens"]
    assert {t["name"]: t["role"] for t in listed} == {"bootstrap-admin": "admin", "ci-bot": "operator"}
    assert all("token" not in t and "digest" not in t for t in listed)

    again = await admin.post("/v1/tokens", json={"name": "ci-bot", "role": "viewer"})
    assert again.status_code == 409 and "an active token named ci-bot already exists" in again.text
    bad_role = await admin.post("/v1/tokens", json={"name": "x", "role": "root"})
    assert bad_role.status_code == 400 and "unknown role 'root'" in bad_role.text

    revoked = await admin.delete("/v1/tokens/ci-bot")
    assert revoked.status_code == 200 and revoked.json()["revoked"] > 0
    r = await bot.get("/v1/jobs")
    assert r.status_code == 401
    assert r.json()["error"]["message"] == f"bearer token {created.json()['token_id']} (ci-bot) was revoked"
    actions = [(a["action"], a["actor"]) for a in (await admin.get("/v1/audit")).json()["audit"]]
    assert actions[:2] == [("token_revoke", "bootstrap-admin"), ("token_create", "bootstrap-admin")]


async def test_bootstrap_token_file_is_private_and_written_once(two: Cluster) -> None:
    path = two.flows[GUEST].bootstrap_token_file
    assert path is not None and path.name == "admin.token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token = path.read_text().strip()
    await two.stop_flow(GUEST)
    await two.start_flow(GUEST)
    assert two.flows[GUEST].bootstrap_token_file is None  # an admin token exists: no new one
    assert path.read_text().strip() == token
    assert (await two.client(GUEST, token=token).get("/v1/jobs")).status_code == 200


async def test_admin_token_from_a_file_setting(cluster: Cluster) -> None:
    await cluster.add_party(GUEST, tables=("demo.guest",))
    secret = "sbt_" + "k" * 40
    (cluster.tmp_path / "admin-secret").write_text(secret + "\n")
    flow = await cluster.start_flow(GUEST, admin_token_file=cluster.tmp_path / "admin-secret")
    assert flow.bootstrap_token_file is None and not (cluster.tmp_path / f"p{GUEST}" / "admin.token").exists()
    assert (await cluster.client(GUEST, token=secret).get("/v1/tokens")).status_code == 200
    await cluster.stop_flow(GUEST)
    await cluster.start_flow(GUEST, admin_token_file=cluster.tmp_path / "admin-secret")  # registered once
    assert [t.name for t in cluster.flows[GUEST].store.list_tokens()] == ["bootstrap-admin"]


async def test_health_and_metrics_stay_open_and_the_board_asks_for_a_token(two: Cluster) -> None:
    import httpx

    flow = two.flows[GUEST]
    app = make_app("flow", flow.metrics.registry, flow.ready, flow.routes())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://flow") as client:
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/readyz")).status_code == 200
        assert (await client.get("/metrics")).status_code == 200
        board = (await client.get("/board")).text
        assert "silobridge board" in board and "/board/static/board.js" in board
        script = (await client.get("/board/static/board.js")).text  # the board's code, open as the page
        assert "Authorization" in script
        assert (await client.get("/v1/jobs")).status_code == 401
        spec = (await client.get("/openapi.json")).json()
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    assert {"401", "403"} <= set(spec["paths"]["/v1/jobs"]["post"]["responses"])
