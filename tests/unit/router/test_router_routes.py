"""Route table parsing: what a party operator writes, and the errors that point at the mistake."""

from __future__ import annotations

import pytest

from rollsite_router.routes import RouteTableError, load_route_table, parse_route_table

GOOD = """\
self: 9999
routes:
  10000: {host: 10.0.0.2, port: 9370}
  10001:
    host: party-10001.example.org
    port: 9371
"""


def test_routes_and_default_acl():
    table = parse_route_table(GOOD)
    assert table.self_party == 9999
    ep = table.endpoint_for(10001)
    assert (ep.target, ep.server_name) == ("party-10001.example.org:9371", "party-10001")
    assert table.endpoint_for(10002) is None
    # no `allow`: every party with a route may send to us, nobody else
    assert table.allows(10000) and table.allows(10001) and not table.allows(10002)


def test_explicit_allow_and_default_route():
    table = parse_route_table(
        GOOD + "default: {host: hub.example.org, port: 9370, party: 10000}\nallow: [10001, 10005]\n"
    )
    assert table.allows(10005) and not table.allows(10000)
    via_hub = table.endpoint_for(12345)
    assert (via_hub.target, via_hub.server_name) == ("hub.example.org:9370", "party-10000")
    assert table.endpoint_for(10001).target == "party-10001.example.org:9371"  # explicit route wins


def test_default_route_without_party_pins_the_destination():
    table = parse_route_table("self: 1\ndefault: {host: gw, port: 1}\n")
    assert table.endpoint_for(7).server_name == "party-7"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            GOOD.replace("port: 9371", "port: 70000"),
            r"line 6 routes\.10001\.port: port must be an integer 1\.\.65535, got 70000",
        ),
        (GOOD.replace("port: 9371", 'port: "x"'), r"routes\.10001\.port"),
        (GOOD.replace("    host: party-10001.example.org\n", ""), r"line 4 routes\.10001\.host: missing"),
        (GOOD + "rotues: {}\n", r"line 7 rotues: unknown key"),
        (
            GOOD.replace("10000: {host", "abc: {host"),
            r"line 3 routes\.abc: party id key must be a positive integer",
        ),
        (GOOD.replace("self: 9999", "self: -1"), r"line 1 self: party id must be a positive integer"),
        ("routes: {}\n", r"missing key 'self'"),
        ("- 1\n- 2\n", r"must be a mapping"),
        ("self: 9999\nroutes: {9999: {host: a, port: 1}}\n", r"routes\.9999: a route to this party itself"),
        ("self: 9999\nallow: 10000\n", r"line 2 allow: must be a list"),
        ("self: 9999\nallow: [10000, x]\n", r"line 2 allow\.1: party id must be a positive integer"),
        ("self: 9999\nroutes: {10000: {host: a, port: 1, tls: off}}\n", r"routes\.10000\.tls: unknown key"),
        ("self: 9999\nroutes:\n  10000: {host: a\n", r"line \d+ not valid YAML"),
    ],
)
def test_bad_files_name_key_and_line(text, expected):
    with pytest.raises(RouteTableError, match=expected):
        parse_route_table(text, source="routes.yaml")


def test_file_for_another_party_is_refused(tmp_path):
    path = tmp_path / "routes.yaml"
    path.write_text(GOOD)
    assert load_route_table(path, expected_self=9999).routes.keys() == {10000, 10001}
    with pytest.raises(RouteTableError, match="self: is 9999 but this router is party 10000"):
        load_route_table(path, expected_self=10000)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(RouteTableError, match=r"routes\.yaml: cannot read"):
        load_route_table(tmp_path / "routes.yaml")


def test_yaml_tags_are_not_executed():
    with pytest.raises(RouteTableError, match="not valid YAML"):
        parse_route_table("self: !!python/object/apply:os.system ['true']\n")
