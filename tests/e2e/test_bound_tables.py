"""Bound tables end to end at three single-process parties: the guest's data bound from a real
PostgreSQL table, the host's from a Parquet directory, the demo job trained on them to the same
AUC as on the same data uploaded as CSVs; who may bind, what may be bound, and that the password
is stored nowhere."""

from __future__ import annotations

import copy
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from brokers import MYSQL_PASSWORD, MYSQL_URL, POSTGRES_URL
from jobs import submit_and_wait, task_summary, vertical_job
from parties import InProcessParties

from silobridge_cli import demo_data
from silobridge_cli.credentials import auth_headers
from silobridge_cli.demo import upload
from silobridge_cli.main import main as cli

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

PASSWORD = f"pw-{uuid.uuid4().hex}"
SECRET_VAR = "SB_E2E_BOUND_PG_PASSWORD"
MYSQL_SECRET_VAR = "SB_E2E_BOUND_MYSQL_PASSWORD"


def _num(v: float) -> float:
    return float(f"{v:.10g}")  # what the CSV upload parses back


@pytest.fixture(scope="module")
def data() -> demo_data.VerticalSplit:
    x, y = demo_data.load("breast_cancer")
    return demo_data.split(x, y, 10)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory, data: demo_data.VerticalSplit) -> Path:
    """The host's features as a directory of three Parquet files (rows in the host's order)."""
    root = tmp_path_factory.mktemp("warehouse")
    (root / "host").mkdir()
    ids = list(data.x_host)
    for f, chunk in enumerate(np.array_split(np.arange(len(ids)), 3)):
        cols: dict[str, Any] = {"id": [ids[i] for i in chunk]}
        for j in range(data.host_features):
            cols[f"h{j}"] = [_num(data.x_host[ids[i]][j]) for i in chunk]
        pq.write_table(pa.table(cols), root / "host" / f"part-{f}.parquet")
    return root


@pytest.fixture(scope="module")
def pg_table(data: demo_data.VerticalSplit) -> Iterator[str]:
    name = f"sb_guest_{uuid.uuid4().hex[:10]}"
    gcols = ", ".join(f"g{j} double precision" for j in range(data.guest_features))
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {name} (id text PRIMARY KEY, y integer, {gcols})")
        with conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO {name} VALUES ({', '.join(['%s'] * (2 + data.guest_features))})",
                [[i, int(data.y[i]), *map(_num, data.x_guest[i])] for i in data.x_guest],
            )
    yield name
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {name}")


@pytest.fixture(scope="module")
def parties(tmp_path_factory: pytest.TempPathFactory, warehouse: Path) -> Iterator[InProcessParties]:
    allow = f"{warehouse}, {POSTGRES_URL}, {MYSQL_URL}"
    os.environ[SECRET_VAR] = PASSWORD  # the node-managers (in this process) resolve env:<name>
    p = InProcessParties(
        Path(tmp_path_factory.mktemp("bound")), extra={"node-manager": {"bind_allow": allow}}
    )
    try:
        p.start()
        yield p
    finally:
        p.stop()
        os.environ.pop(SECRET_VAR, None)


def bind(flow: str, token: str | None = None, **body: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else auth_headers(flow)
    return httpx.post(f"{flow}/v1/tables/bind", json=body, headers=headers, timeout=120)


def tables(flow: str) -> list[str]:
    got = httpx.get(f"{flow}/v1/tables", headers=auth_headers(flow), timeout=30).json()["tables"]
    return sorted(f"{t['namespace']}.{t['name']}" for t in got)


def token(flow: str, role: str) -> str:
    r = httpx.post(f"{flow}/v1/tokens", json={"name": f"t-{role}", "role": role}, headers=auth_headers(flow))
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


def job_on(guest: str, host: str) -> dict[str, Any]:
    job = copy.deepcopy(vertical_job())
    job["components"][0]["role_params"] = {
        "guest": {"table": guest, "require_label": True},
        "host": {"table": host},
    }
    return job


@pytest.fixture(scope="module")
def bound(
    parties: InProcessParties, pg_table: str, warehouse: Path, data: demo_data.VerticalSplit
) -> dict[str, Any]:
    guest, host = parties.flow("guest"), parties.flow("host")
    data_owner = token(guest, "data-owner")
    rc = cli(
        [
            "table", "bind", "--flow", guest, "--token", data_owner, "--namespace", "bank", "--name", "guest",
            "--kind", "postgresql", "--location", POSTGRES_URL, "--query", pg_table,
            "--secret", f"env:{SECRET_VAR}", "--id-column", "id", "--label-column", "y",
        ]
    )  # fmt: skip
    assert rc == 0
    r = bind(
        host, namespace="bank", name="host", kind="parquet", location=str(warehouse / "host"), id_column="id"
    )
    assert r.status_code == 201, r.text
    return {"guest": httpx.get(f"{guest}/v1/tables/bank/guest", headers=auth_headers(guest)).json()["table"]}


@pytest.fixture(scope="module")
def on_csv(parties: InProcessParties, data: demo_data.VerticalSplit) -> dict[str, Any]:
    """The job on the same values uploaded as CSVs; the guest's rows in id order, as the bound
    queries read them."""
    guest, host = parties.flow("guest"), parties.flow("host")
    gnames = [f"g{j}" for j in range(data.guest_features)]
    gcsv = demo_data.csv_bytes(
        ["id", "y", *gnames], [[i, int(data.y[i]), *data.x_guest[i]] for i in sorted(data.x_guest)]
    )
    hnames = [f"h{j}" for j in range(data.host_features)]
    hcsv = demo_data.csv_bytes(["id", *hnames], [[i, *data.x_host[i]] for i in data.x_host])
    upload(guest, gcsv, namespace="csv", name="guest", label_column="y")
    upload(host, hcsv, namespace="csv", name="host")
    job = submit_and_wait(guest, job_on("csv.guest", "csv.host"))
    assert job["state"] == "SUCCEEDED", job["message"]
    return job


def test_bound_job_matches_the_uploaded_csv_job(
    parties: InProcessParties, bound: dict[str, Any], on_csv: dict[str, Any], data: demo_data.VerticalSplit
) -> None:
    guest = parties.flow("guest")
    on_bound = submit_and_wait(guest, job_on("bank.guest", "bank.host"))
    assert on_bound["state"] == "SUCCEEDED", on_bound["message"]
    assert task_summary(on_bound, "psi_0")["intersected_rows"] == len(data.common_ids)
    auc_bound, auc_csv = (task_summary(j, "evaluation_0")["auc"] for j in (on_bound, on_csv))
    assert auc_bound > 0.97
    assert abs(auc_bound - auc_csv) < 1e-9, (auc_bound, auc_csv)
    # The readers passed the bindings on: no copy of a bound table in any data directory (the
    # uploaded tables' readers wrote theirs, as before).
    for role in ("guest", "host"):
        tables_dir = parties.root / f"party-{parties.roles[role]}" / "node-manager" / "tables"
        assert not (tables_dir / f"job_{on_bound['job_id']}" / "reader_0_data").exists(), role
        assert (tables_dir / f"job_{on_csv['job_id']}" / "reader_0_data").exists(), role
        assert not (tables_dir / "bank").exists(), role


@pytest.mark.mysql
def test_guest_bound_from_mariadb_with_a_real_password(
    parties: InProcessParties, bound: dict[str, Any], on_csv: dict[str, Any], data: demo_data.VerticalSplit
) -> None:
    import pymysql

    u = urlsplit(MYSQL_URL)
    name = f"sb_guest_{uuid.uuid4().hex[:10]}"
    gcols = ", ".join(f"g{j} DOUBLE" for j in range(data.guest_features))
    conn = pymysql.connect(
        host=u.hostname, port=u.port or 3306, user=u.username, password=MYSQL_PASSWORD,
        database=u.path.strip("/"), autocommit=True,
    )  # fmt: skip
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE TABLE {name} (id VARCHAR(32) PRIMARY KEY, y INT, {gcols})")
            cur.executemany(
                f"INSERT INTO {name} VALUES ({', '.join(['%s'] * (2 + data.guest_features))})",
                [[i, int(data.y[i]), *map(_num, data.x_guest[i])] for i in data.x_guest],
            )
        guest = parties.flow("guest")
        os.environ[MYSQL_SECRET_VAR] = MYSQL_PASSWORD
        r = bind(guest, namespace="bank", name="guest_my", kind="mysql", location=MYSQL_URL, query=name,
                 secret_ref=f"env:{MYSQL_SECRET_VAR}", id_column="id", label_column="y")  # fmt: skip
        assert r.status_code == 201, r.text
        job = submit_and_wait(guest, job_on("bank.guest_my", "bank.host"))
        assert job["state"] == "SUCCEEDED", job["message"]
        auc, auc_csv = (task_summary(j, "evaluation_0")["auc"] for j in (job, on_csv))
        assert abs(auc - auc_csv) < 1e-9, (auc, auc_csv)
        # The password only reached the server: the binding keeps the reference.
        assert r.json()["table"]["source"]["secret_ref"] == f"env:{MYSQL_SECRET_VAR}"
    finally:
        os.environ.pop(MYSQL_SECRET_VAR, None)
        with conn.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {name}")
        conn.close()


def test_catalog_shows_schema_rows_source_and_version(
    parties: InProcessParties, bound: dict[str, Any], pg_table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    guest = parties.flow("guest")
    t = bound["guest"]
    assert t["source"] == {
        "kind": "postgresql", "location": POSTGRES_URL, "query": pg_table, "secret_ref": f"env:{SECRET_VAR}"
    }  # fmt: skip
    assert int(t["rows"]) == 512 and t["source_version"].startswith("postgresql:512:")
    assert [c["dtype"] for c in t["columns"][:3]] == ["string", "int64", "float64"]
    assert cli(["table", "describe", "bank.guest", "--flow", guest]) == 0
    out = capsys.readouterr().out
    assert f"postgresql {POSTGRES_URL} ({pg_table})" in out and "512 in 1 partitions" in out
    assert "g9                             float64" in out
    assert cli(["table", "list", "--flow", parties.flow("host")]) == 0
    listing = capsys.readouterr().out
    line = next(row for row in listing.splitlines() if row.startswith("bank.host "))
    assert line.split()[1:3] == ["512", "21"] and "parquet " in line, line
    assert any(row.startswith("csv.host ") and row.endswith("stored") for row in listing.splitlines())


def test_the_password_is_stored_nowhere(parties: InProcessParties, bound: dict[str, Any]) -> None:
    guest = parties.flow("guest")
    # Given the wrong way (inside the URL, or as the reference itself), it is refused, not kept.
    inline = POSTGRES_URL.replace("postgres@", f"postgres:{PASSWORD}@")
    for body in ({"location": inline}, {"location": POSTGRES_URL, "secret_ref": PASSWORD}):
        r = bind(guest, namespace="bank", name="pw", kind="postgresql", query="t", id_column="id", **body)
        assert r.status_code == 400 and PASSWORD not in r.text
    hits = [p for p in parties.root.rglob("*") if p.is_file() and PASSWORD.encode() in p.read_bytes()]
    assert hits == []


def test_roles_without_data_permission_cannot_bind(parties: InProcessParties, warehouse: Path) -> None:
    guest = parties.flow("guest")
    before = tables(guest)
    for role in ("viewer", "operator"):
        r = bind(guest, token(guest, role), namespace="bank", name="x", kind="parquet",
                 location=str(warehouse / "host"), id_column="id")  # fmt: skip
        assert r.status_code == 403 and f"role {role} may not" in r.json()["error"]["message"]
    assert tables(guest) == before


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"kind": "parquet", "location": "/"}, 403, "not allowed at this node-manager"),
        ({"kind": "postgresql", "location": "postgresql://127.0.0.1:5432/postgres", "query": "pg_class"}, 403,
         "not allowed at this node-manager"),
        ({"kind": "postgresql", "location": "postgresql://u:hunter2@127.0.0.1:5432/test", "query": "t"}, 400,
         "carries a password"),
        ({"kind": "postgresql", "location": POSTGRES_URL, "query": "t", "secret_ref": "hunter2"}, 400,
         "env:NAME or file:"),
    ],
)  # fmt: skip
def test_disallowed_sources_are_refused_and_nothing_registered(
    parties: InProcessParties, body: dict[str, str], status: int, needle: str
) -> None:
    guest = parties.flow("guest")
    before = tables(guest)
    r = bind(guest, namespace="bank", name="refused", id_column="id", **body)
    assert r.status_code == status and needle in r.json()["error"]["message"], r.text
    assert "hunter2" not in r.text
    assert tables(guest) == before


def test_a_changed_source_fails_the_job_at_its_start(
    parties: InProcessParties, bound: dict[str, Any], pg_table: str
) -> None:
    guest = parties.flow("guest")
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f"UPDATE {pg_table} SET g0 = g0 + 1 WHERE id = (SELECT min(id) FROM {pg_table})")
    job = submit_and_wait(guest, job_on("bank.guest", "bank.host"))
    assert job["state"] == "FAILED"
    reader = next(t for t in job["tasks"] if t["name"] == "reader_0" and t["role"] == "guest")
    assert "bank.guest at party 9999 changed since it was bound" in reader["message"]
    assert not any(t["state"] == "SUCCEEDED" for t in job["tasks"] if t["name"] == "hetero_lr_0")


def test_a_large_upload_streams_through_flow_in_pieces(
    parties: InProcessParties,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    from flow import uploads
    from flow.cluster_client import ClusterClient

    monkeypatch.setattr(uploads, "CHUNK_BYTES", 64 * 1024)
    pieces: list[int] = []
    forward = ClusterClient.upload_chunk

    async def spy(self: ClusterClient, node_id: str, piece: Any) -> Any:
        pieces.append(len(piece.data))
        return await forward(self, node_id, piece)

    monkeypatch.setattr(ClusterClient, "upload_chunk", spy)
    rows = 20_000
    csv = tmp_path / "big.csv"
    csv.write_text("id,a,b,y\n" + "".join(f"r{i},{i * 0.5},{-i},{i % 2}\n" for i in range(rows)))
    guest = parties.flow("guest")
    args = ["data", "upload", "--flow", guest, "--file", str(csv), "--namespace", "big", "--name", "t"]
    assert cli([*args, "--id-column", "id", "--label-column", "y"]) == 0
    assert f"stored big.t: {rows} rows" in capsys.readouterr().out
    size = csv.stat().st_size
    assert len(pieces) == -(-size // (64 * 1024)) and max(pieces) <= 64 * 1024 and sum(pieces) == size
    spool = parties.root / "party-9999" / "node-manager" / "uploads"
    assert not spool.exists() or list(spool.iterdir()) == []
