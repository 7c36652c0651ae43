"""``silobridge peer add|remove|list`` edits the route table the router and flow read: whole,
checked by the router's loader, and not at all when the edit is refused."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from rollsite_router.routes import load_route_table
from silobridge_cli.main import main

ME, PEER, NEW = 9999, 10000, 10002
TABLE = f"""# bank A's partners
self: {ME}
routes:
  {PEER}: {{host: 10.0.0.2, port: 9370}}
"""


@pytest.fixture
def table(tmp_path: Path) -> Path:
    path = tmp_path / "routes.yaml"
    path.write_text(TABLE)
    path.chmod(0o640)
    return path


def _peer(table: Path, *args: str) -> int:
    return main(["peer", *args, "--route-table", str(table)])


def test_add_routes_and_accepts_the_new_peer_in_place(table: Path, capsys) -> None:
    assert _peer(table, "add", "--party", str(NEW), "--host", "router.bank-c.example", "--port", "9371") == 0
    assert "routed to router.bank-c.example:9371" in capsys.readouterr().out
    routes = load_route_table(table, expected_self=ME)
    assert routes.routes[NEW].target == "router.bank-c.example:9371"
    assert routes.routes[PEER].target == "10.0.0.2:9370"
    assert routes.allows(NEW) and routes.allows(PEER)
    assert stat.S_IMODE(table.stat().st_mode) == 0o640
    assert sorted(p.name for p in table.parent.iterdir()) == ["routes.yaml"]  # no temporary file left


def test_an_explicit_allow_list_gains_the_peer_unless_no_allow(table: Path) -> None:
    table.write_text(TABLE + f"allow: [{PEER}]\n")
    assert _peer(table, "add", "--party", str(NEW), "--host", "10.0.0.3", "--port", "9370") == 0
    assert load_route_table(table).allow == {PEER, NEW}
    assert _peer(table, "add", "--party", "10003", "--host", "fd00::3", "--port", "9370", "--no-allow") == 0
    routes = load_route_table(table)
    assert routes.routes[10003].target == "[fd00::3]:9370" and not routes.allows(10003)


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--party", str(ME), "--host", "10.0.0.9", "--port", "9370"], f"party {ME} is this party itself"),
        (["--party", str(PEER), "--host", "10.0.0.9", "--port", "9370"], f"party {PEER} already has a route"),
        (["--party", str(NEW), "--host", "10.0.0.9", "--port", "0"], "port 0: must be 1..65535"),
        (["--party", str(NEW), "--host", "10.0.0.9", "--port", "65536"], "port 65536: must be 1..65535"),
        (["--party", str(NEW), "--host", "https://x.example", "--port", "1"], "not a DNS name or an IP"),
        (["--party", str(NEW), "--host", "x.example:9370", "--port", "1"], "not a DNS name or an IP"),
        (["--party", str(NEW), "--host", "999.0.0.1", "--port", "1"], "not a DNS name or an IP"),
        (["--party", "0", "--host", "10.0.0.9", "--port", "1"], "party id 0: must be a positive integer"),
    ],
)
def test_a_refused_add_names_the_problem_and_leaves_the_file_alone(
    table: Path, capsys, args: list[str], problem: str
) -> None:
    before = table.stat()
    assert _peer(table, "add", *args) == 1
    assert problem in capsys.readouterr().err
    assert table.read_text() == TABLE  # comments and all
    assert table.stat().st_mtime_ns == before.st_mtime_ns and table.stat().st_ino == before.st_ino


def test_a_file_the_router_would_refuse_is_not_edited(table: Path, capsys) -> None:
    broken = TABLE + f"  {NEW}: {{host: 10.0.0.3, port: nine}}\n"
    table.write_text(broken)
    assert _peer(table, "add", "--party", "10003", "--host", "10.0.0.4", "--port", "1") == 1
    assert "line 5 routes.10002.port: port must be an integer" in capsys.readouterr().err
    assert table.read_text() == broken
    assert _peer(table.parent / "missing.yaml", "list") == 1
    assert "cannot read" in capsys.readouterr().err


def test_replace_moves_a_peer(table: Path) -> None:
    assert (
        _peer(table, "add", "--party", str(PEER), "--host", "10.0.0.20", "--port", "9370", "--replace") == 0
    )
    assert load_route_table(table).routes[PEER].target == "10.0.0.20:9370"


def test_remove_takes_route_and_allow_entry_and_refuses_what_is_not_there(table: Path, capsys) -> None:
    table.write_text(TABLE + f"  {NEW}: {{host: 10.0.0.3, port: 9370}}\nallow: [{PEER}, {NEW}]\n")
    assert _peer(table, "remove", "--party", str(PEER)) == 0
    routes = load_route_table(table)
    assert set(routes.routes) == {NEW} and routes.allow == {NEW}
    edited = table.read_text()
    assert _peer(table, "remove", "--party", str(PEER)) == 1
    assert f"party {PEER} is not a peer" in capsys.readouterr().err
    assert _peer(table, "remove", "--party", str(ME)) == 1
    assert "this party itself" in capsys.readouterr().err
    assert table.read_text() == edited


def test_list_shows_peers_addresses_and_acl(table: Path, capsys) -> None:
    table.write_text(
        TABLE + f"default: {{host: hub.example, port: 9370, party: 10100}}\nallow: [{PEER}, {NEW}]\n"
    )
    assert _peer(table, "list") == 0
    out = capsys.readouterr().out
    assert f"{PEER:<12} {'10.0.0.2:9370':<40} allowed" in out
    assert f"{NEW:<12} {'(default route)':<40} allowed" in out
    assert "default route: hub.example:9370, presents party-10100" in out
    assert _peer(table, "list", "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["self"] == ME and doc["default"] == {"host": "hub.example", "port": 9370, "party": 10100}
    assert doc["peers"][0] == {"party": PEER, "host": "10.0.0.2", "port": 9370, "allowed": True}


def test_a_symlinked_table_is_edited_where_it_lives(tmp_path: Path, table: Path) -> None:
    link = tmp_path / "current.yaml"
    os.symlink(table, link)
    assert _peer(link, "add", "--party", str(NEW), "--host", "10.0.0.3", "--port", "9370") == 0
    assert link.is_symlink() and NEW in load_route_table(table).routes
