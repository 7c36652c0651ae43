"""Operator CRDs: structural schemas that accept the example custom resources."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from deploy_helpers import DEPLOY

from silobridge_cli.deploy.crd import cluster_crd, cluster_crd_yaml
from silobridge_cli.deploy.spec import load_cluster, parse_cluster

CRDS = DEPLOY / "operator" / "crds"
CR_EXAMPLES = sorted((DEPLOY / "operator" / "examples").glob("*.yaml"))
# JSONSchemaProps of apiextensions.k8s.io/v1 has no field for these
FORBIDDEN = {"$ref", "$defs", "$schema", "$id", "definitions", "const", "propertyNames", "patternProperties"}


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def open_api_schema(crd: dict[str, Any]) -> dict[str, Any]:
    (version,) = crd["spec"]["versions"]
    return version["schema"]["openAPIV3Schema"]


def check_structural(node: Any, path: str = "") -> list[str]:
    """Kubernetes' structural-schema rules that matter here."""
    problems: list[str] = []
    if isinstance(node, dict):
        problems += [f"{path}: {k} not allowed" for k in FORBIDDEN & set(node)]
        if "properties" in node and "additionalProperties" in node:
            problems.append(f"{path}: properties beside additionalProperties")
        if isinstance(node.get("type"), list):
            problems.append(f"{path}: type must be one string")
        if ("properties" in node or "items" in node) and "type" not in node:
            problems.append(f"{path}: missing type")
        for key in ("properties",):
            for name, sub in node.get(key, {}).items():
                problems += check_structural(sub, f"{path}.{name}")
        for key in ("items", "additionalProperties"):
            if isinstance(node.get(key), dict):
                problems += check_structural(node[key], f"{path}[{key}]")
    return problems


@pytest.mark.parametrize("name", sorted(p.name for p in CRDS.glob("*.yaml")))
def test_crd_schema_is_valid_and_structural(name: str) -> None:
    crd = load(CRDS / name)
    assert crd["kind"] == "CustomResourceDefinition"
    assert crd["metadata"]["name"] == f"{crd['spec']['names']['plural']}.{crd['spec']['group']}"
    schema = open_api_schema(crd)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert check_structural(schema) == []


def test_cluster_crd_is_generated_from_the_cluster_schema() -> None:
    assert (CRDS / "silobridgecluster.yaml").read_text() == cluster_crd_yaml(), (
        "stale CRD: silobridge cluster schema --crd > deploy/operator/crds/silobridgecluster.yaml"
    )


@pytest.mark.parametrize("example", CR_EXAMPLES, ids=lambda p: p.name)
def test_example_resources_are_accepted(example: Path) -> None:
    cr = load(example)
    crd = {c["spec"]["names"]["kind"]: c for c in (load(p) for p in CRDS.glob("*.yaml"))}[cr["kind"]]
    assert cr["apiVersion"] == f"{crd['spec']['group']}/{crd['spec']['versions'][0]['name']}"
    jsonschema.Draft202012Validator(open_api_schema(crd)).validate(cr)
    if cr["kind"] == "SilobridgeCluster":  # the operator hands spec to the same renderer
        parse_cluster({"apiVersion": "silobridge.io/v1", "kind": "Cluster", **cr["spec"]})


def test_cluster_crd_spec_matches_the_cluster_yaml_examples() -> None:
    schema = open_api_schema(cluster_crd())
    validator = jsonschema.Draft202012Validator(schema)
    for path in sorted((DEPLOY / "examples").glob("cluster-*.yaml")):
        spec = load_cluster(path).raw  # with defaults, keys as strings (as the API server stores them)
        body = {k: v for k, v in spec.items() if k not in ("apiVersion", "kind")}
        env = {k: {n: str(v) for n, v in vals.items()} for k, vals in body["env"].items()}
        errors = [e.message for e in validator.iter_errors({"spec": {**body, "env": env}})]
        assert errors == [], path.name


@pytest.mark.parametrize(
    ("spec", "where"),
    [
        ({"party": {"id": 9999}, "bus": {"url": "amqp://h/"}, "nodes": {"compute": "gpu"}}, "gpu"),
        ({"party": {"id": 9999}}, "bus"),
        ({"party": {"id": 9999}, "bus": {"url": "amqp://h/"}, "routes": {"10000": {"port": 1}}}, "host"),
    ],
)
def test_bad_cluster_resources_are_refused(spec: dict[str, Any], where: str) -> None:
    validator = jsonschema.Draft202012Validator(open_api_schema(cluster_crd()))
    errors = [e.message for e in validator.iter_errors({"spec": spec})]
    assert any(where in m for m in errors), errors


def test_bad_job_resource_is_refused() -> None:
    crd = load(CRDS / "silobridgejob.yaml")
    validator = jsonschema.Draft202012Validator(open_api_schema(crd))
    job = load(next(p for p in CR_EXAMPLES if "job" in p.name))
    job["spec"]["parties"]["guest"] = []
    job["spec"]["components"][0].pop("component")
    messages = sorted(e.message for e in validator.iter_errors(job))
    assert messages == ["'component' is a required property", "[] should be non-empty"]
