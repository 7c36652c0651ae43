"""cluster.yaml validation: the examples pass, mistakes are refused with the path that is wrong."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from deploy_helpers import DEPLOY, minimal, spec_of

from silobridge.errors import InvalidInput
from silobridge_cli.deploy.spec import ClusterSpec, cluster_schema, load_cluster, parse_cluster


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(cluster_schema())
    assert cluster_schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_published_schema_is_the_one_the_cli_uses() -> None:
    published = json.loads((DEPLOY / "schema" / "cluster.schema.json").read_text())
    assert published == cluster_schema(), (
        "deploy/schema/cluster.schema.json is stale: silobridge cluster schema > deploy/schema/cluster.schema.json"
    )


def test_every_example_is_valid(example: ClusterSpec) -> None:
    assert example.party_id in (9999, 10000, 10001)
    assert example.bus_url.startswith("amqp://")


def test_the_examples_form_a_consistent_federation() -> None:
    """guest/host/arbiter route to each other: every party is reachable from every other."""
    for folder in (DEPLOY / "examples", DEPLOY / "examples" / "local-3-party"):
        specs = [load_cluster(p) for p in sorted(folder.glob("cluster-*.yaml"))]
        ids = {s.party_id for s in specs}
        assert ids == {9999, 10000, 10001}
        for s in specs:
            assert set(s.routes) == ids - {s.party_id}, s.party_id


def test_local_examples_use_distinct_ports_on_loopback() -> None:
    specs = [load_cluster(p) for p in sorted((DEPLOY / "examples" / "local-3-party").glob("cluster-*.yaml"))]
    ports = [s.section("router")["port"] for s in specs] + [s.section("flow")["port"] for s in specs]
    assert len(set(ports)) == len(ports)
    by_id = {s.party_id: s for s in specs}
    for s in specs:
        for peer, endpoint in s.routes.items():
            assert endpoint.host == "127.0.0.1"
            assert endpoint.port == by_id[peer].section("router")["port"]


def test_defaults_are_filled_from_the_schema() -> None:
    spec = parse_cluster(minimal())
    assert spec.name == "party-9999"
    assert spec.bus_prefix == "p9999"
    assert spec.section("router")["port"] == 9370
    assert spec.section("router")["chunk_bytes"] == 1024 * 1024
    assert spec.section("nodes") == {
        "replicas": 1,
        "compute": "local",
        "workers": 0,
        "http_port": 9373,
        "storage": "10Gi",
    }
    assert spec.pki_secret == "silobridge-party-9999-tls"
    assert spec.routes == {}


def test_integer_party_keys_in_routes_are_accepted() -> None:
    spec = spec_of(
        """
apiVersion: silobridge.io/v1
kind: Cluster
party: {id: 9999}
bus: {url: "amqp://x@h:5672/"}
routes:
  10000: {host: 10.0.0.2}
  default: {host: exchange.example, port: 9444, party: 1}
"""
    )
    assert spec.routes[10000].host == "10.0.0.2"
    assert spec.routes[10000].port == 9370  # endpoint default
    assert spec.default_route is not None
    assert (spec.default_route.host, spec.default_route.port, spec.default_route.party) == (
        "exchange.example",
        9444,
        1,
    )


def test_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "cluster.yaml"
    path.parent.mkdir()
    path.write_text(json.dumps(minimal(pki={"dir": "tls"})))
    spec = load_cluster(path)
    assert spec.pki_dir == path.parent / "tls"
    assert spec.data_dir == path.parent / ".silobridge" / "party-9999"


BAD: list[tuple[str, dict[str, Any], str]] = [
    (
        "port out of range",
        minimal(routes={"10000": {"host": "h", "port": 70000}}),
        "routes.10000.port: 70000 is greater",
    ),
    ("unknown compute", minimal(nodes={"compute": "gpu"}), "nodes.compute: 'gpu' is not one of"),
    ("missing party id", minimal(party={"name": "x"}), "party: 'id' is a required property"),
    (
        "unknown key",
        minimal(rauter={"port": 1}),
        "(top level): Additional properties are not allowed ('rauter'",
    ),
    ("bad route key", minimal(routes={"bank-b": {"host": "h"}}), "routes: 'bank-b' does not match"),
    (
        "route without host",
        minimal(routes={"10000": {"port": 9370}}),
        "routes.10000: 'host' is a required property",
    ),
    ("tag read as a number", minimal(images={"tag": 0.1}), "images.tag: 0.1 is not of type 'string'"),
    ("bus scheme", minimal(bus={"url": "redis://h"}), "bus.url: 'redis://h' does not match"),
    ("wrong kind", minimal(kind="Party"), "kind: 'Cluster' was expected"),
    (
        "route to itself",
        minimal(routes={"9999": {"host": "h"}}),
        "routes.9999: a party does not route to itself",
    ),
    (
        "ray without a cluster",
        minimal(nodes={"compute": "ray"}),
        "ray: nodes.compute is ray: set ray.address",
    ),
    ("env name", minimal(env={"flow": {"lower": "x"}}), "env.flow: 'lower' does not match"),
    (
        "resources",
        minimal(resources={"flow": {"limits": {"memory": "lots"}}}),
        "resources.flow.limits.memory: 'lots'",
    ),
]


@pytest.mark.parametrize(("doc", "expected"), [(d, e) for _, d, e in BAD], ids=[n for n, _, _ in BAD])
def test_mistakes_are_refused_naming_the_path(doc: dict[str, Any], expected: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_cluster(doc)
    assert expected in str(err.value)


def test_every_problem_is_listed_at_once() -> None:
    with pytest.raises(InvalidInput) as err:
        parse_cluster(minimal(router={"port": 0}, nodes={"replicas": 0}))
    message = str(err.value)
    assert "nodes.replicas: 0 is less than the minimum of 1" in message
    assert "router.port: 0 is less than the minimum of 1" in message


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "cluster.yaml"
    bad.write_text("party: [unclosed\n")
    with pytest.raises(InvalidInput, match=r"cluster\.yaml: not valid YAML"):
        load_cluster(bad)
    with pytest.raises(InvalidInput, match="no such file"):
        load_cluster(tmp_path / "missing.yaml")
    bad.write_text("- a list\n")
    with pytest.raises(InvalidInput, match="expected a mapping at the top level"):
        load_cluster(bad)
