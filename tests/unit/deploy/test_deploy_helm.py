"""The Helm chart: rendered values fit values.schema.json, templates use only values that exist."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from deploy_helpers import CHART, minimal

from silobridge.errors import InvalidInput
from silobridge_cli.deploy import services as svc
from silobridge_cli.deploy.compose import compose_project
from silobridge_cli.deploy.helm import helm_files, helm_values
from silobridge_cli.deploy.spec import ClusterSpec, parse_cluster

VALUES_REF = re.compile(r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")
TEMPLATES = sorted((CHART / "templates").glob("*"))


def values_schema() -> dict[str, Any]:
    return json.loads((CHART / "values.schema.json").read_text())


def default_values() -> dict[str, Any]:
    return yaml.safe_load((CHART / "values.yaml").read_text())


def has_path(values: dict[str, Any], dotted: str) -> bool:
    node: Any = values
    for part in dotted.strip(".").split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def test_chart_metadata() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2"
    assert chart["name"] == "silobridge"
    jsonschema.Draft7Validator.check_schema(values_schema())


def test_default_values_fit_the_schema() -> None:
    jsonschema.Draft7Validator(values_schema()).validate(default_values())


def test_rendered_values_fit_the_schema(example: ClusterSpec) -> None:
    # through the file the CLI writes, so YAML quirks (tags read as numbers, ...) are caught too
    values = yaml.safe_load(helm_files(example)["values.yaml"])
    errors = [
        f"{list(e.absolute_path)}: {e.message}"
        for e in jsonschema.Draft7Validator(values_schema()).iter_errors(values)
    ]
    assert errors == []
    assert values["party"]["id"] == example.party_id
    assert values["nodes"]["replicas"] == example.section("nodes")["replicas"]


def test_rendered_values_carry_the_route_table_the_router_reads(example: ClusterSpec) -> None:
    table = yaml.safe_load(helm_values(example)["routeTable"])
    assert table["self"] == example.party_id
    assert set(table["routes"]) == set(example.routes)  # integer keys, as the router requires
    assert all(isinstance(k, int) for k in table["routes"])


FREE_FORM = {"resources", "extraEnv", "metricsNamespaceSelector", "annotations"}  # maps of any keys


def leaf_paths(values: Any, prefix: str = "") -> set[str]:
    if not isinstance(values, dict) or not values or prefix.rsplit(".", 1)[-1] in FREE_FORM:
        return {prefix}
    return {p for k, v in values.items() for p in leaf_paths(v, f"{prefix}.{k}")}


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_every_values_path_in_templates_exists(template: Path) -> None:
    refs = {m.group(1) for m in VALUES_REF.finditer(template.read_text())}
    missing_default = sorted(r for r in refs if not has_path(default_values(), r))
    assert missing_default == [], f"{template.name}: not in values.yaml"


def test_rendered_values_name_only_chart_values(example: ClusterSpec) -> None:
    """Helm merges the rendered file over values.yaml: a key the chart does not know is a typo."""
    rendered = leaf_paths(helm_values(example))
    unknown = sorted(p for p in rendered if not has_path(default_values(), p))
    assert unknown == []


def test_templates_reference_values_at_all() -> None:
    """Guards the regex above: a chart whose templates use no .Values would pass vacuously."""
    refs = {m.group(1) for t in TEMPLATES for m in VALUES_REF.finditer(t.read_text())}
    assert {".party.id", ".bus.prefix", ".router.listenPort", ".nodes.replicas", ".flow.httpPort"} <= refs


TEMPLATE_OF = {
    svc.ROUTER: "router.yaml",
    svc.CLUSTER_MANAGER: "cluster-manager.yaml",
    svc.NODE_MANAGER: "node-manager.yaml",
    svc.FLOW: "flow.yaml",
    svc.SERVING: "serving.yaml",
}
ENV_NAME = re.compile(r"name: (SILOBRIDGE_[A-Z0-9_]+)")


@pytest.mark.parametrize("service", list(TEMPLATE_OF), ids=lambda s: s.name)
def test_chart_sets_the_same_variables_as_compose(service: svc.ServiceDef, tmp_path: Path) -> None:
    """Two hand-kept lists of SILOBRIDGE_* names (chart templates, renderer) must agree."""
    spec = parse_cluster(minimal(ray={"head": True}, database={"url": "postgresql://u@db/flow"}))
    helpers = (CHART / "templates" / "_helpers.tpl").read_text()
    in_chart = set(ENV_NAME.findall(helpers + (CHART / "templates" / TEMPLATE_OF[service]).read_text()))
    name = f"{service.name}-0" if service is svc.NODE_MANAGER else service.name
    in_compose = set(compose_project(spec, tmp_path)["services"][name]["environment"])
    assert in_chart == in_compose


def test_networkpolicy_opens_only_the_router_grpc_port() -> None:
    text = (CHART / "templates" / "networkpolicy.yaml").read_text()
    docs = text.split("\n---\n")
    assert len(docs) == 4
    namespace_only, router_public, flow_exposed, serving = docs
    assert "{{- if .Values.flow.expose }}" in router_public  # the third only with flow.expose
    assert "{{- if .Values.serving.enabled }}" in flow_exposed  # the fourth only with serving
    assert "operator: NotIn, values: [serving]" in namespace_only  # serving has its own, below
    assert '"component" "serving"' in serving and "{port: http}" in serving
    assert '"component" "flow"' in flow_exposed and "{port: http}" in flow_exposed
    assert "podSelector: {}" in namespace_only  # same-namespace peers only
    assert '"component" "router"' in router_public
    assert "{port: grpc}" in router_public
    assert "from:" not in router_public.split("{{- if")[0]  # any source, but only that port


def test_in_process_bus_is_refused() -> None:
    spec = parse_cluster(minimal(bus={"url": "memory://party"}))
    with pytest.raises(InvalidInput, match=r"bus\.url: memory://party is an in-process bus"):
        helm_values(spec)


def test_flow_expose_reaches_the_values_only_when_asked() -> None:
    assert helm_values(parse_cluster(minimal()))["flow"]["expose"] is False
    assert helm_values(parse_cluster(minimal(flow={"expose": True})))["flow"]["expose"] is True
