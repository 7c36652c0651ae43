"""Grafana dashboard and Prometheus config: parse, and query only metrics the services export."""

from __future__ import annotations

import json
import re

import yaml
from deploy_helpers import DEPLOY, ROOT

METRIC = re.compile(r"\b(silobridge_[a-z0-9_]+)")
SUFFIXES = ("_bucket", "_count", "_sum", "_created")
REQUIRED = {
    "silobridge_bus_messages_total",
    "silobridge_bus_message_bytes_total",
    "silobridge_bus_handler_seconds",
    "silobridge_router_messages_total",
    "silobridge_router_bytes_total",
    "silobridge_router_rejected_total",
    "silobridge_flow_jobs_total",
    "silobridge_node_tasks_total",
    "silobridge_errors_total",
}


def dashboard_metrics() -> set[str]:
    dash = json.loads((DEPLOY / "grafana" / "silobridge-dashboard.json").read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    exprs += [v["definition"] for v in dash["templating"]["list"] if "definition" in v]
    names = set()
    for expr in exprs:
        for name in METRIC.findall(expr):
            if name == "silobridge_party":  # the scrape config's target label
                continue
            for suffix in SUFFIXES:
                if name.endswith(suffix) and not name.endswith("_total" + suffix):
                    name = name.removesuffix(suffix)
            names.add(name)
    return names


def exported_metrics() -> set[str]:
    """Metric names registered in the services' code (string literals)."""
    literal = re.compile(r"[\"'](silobridge_[a-z0-9_]+)[\"']")
    return {m for path in (ROOT / "services").rglob("*.py") for m in literal.findall(path.read_text())}


def test_dashboard_covers_the_platform_metrics() -> None:
    assert dashboard_metrics() >= REQUIRED


def test_dashboard_queries_only_metrics_that_exist() -> None:
    missing = sorted(dashboard_metrics() - exported_metrics())
    assert missing == [], "queried by the dashboard but registered nowhere in services/"


def test_panels_have_unique_ids_and_fit_the_grid() -> None:
    dash = json.loads((DEPLOY / "grafana" / "silobridge-dashboard.json").read_text())
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    assert all(p["gridPos"]["x"] + p["gridPos"]["w"] <= 24 for p in dash["panels"])


def test_prometheus_config_sets_the_label_the_dashboard_filters_on() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    jobs = config["scrape_configs"]
    assert len({j["job_name"] for j in jobs}) == len(jobs)
    for job in jobs:
        labels = [r.get("target_label") for r in job.get("relabel_configs", [])]
        static = [sc.get("labels", {}) for sc in job.get("static_configs", [])]
        assert "silobridge_party" in labels or all("silobridge_party" in s for s in static), job["job_name"]
