"""Helpers of the deployment tests: where deploy/ and its examples are, minimal documents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from silobridge_cli.deploy.spec import ClusterSpec, parse_cluster

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
EXAMPLES = sorted((DEPLOY / "examples").glob("cluster-*.yaml")) + sorted(
    (DEPLOY / "examples" / "local-3-party").glob("cluster-*.yaml")
)
CHART = DEPLOY / "helm" / "silobridge"
FAKE_SERVICE = Path(__file__).with_name("fake_service.py")


def example_id(path: Path) -> str:
    return str(path.relative_to(DEPLOY / "examples"))


def minimal(**sections: Any) -> dict[str, Any]:
    """The smallest valid cluster.yaml document, with sections replaced or added."""
    doc: dict[str, Any] = {
        "apiVersion": "silobridge.io/v1",
        "kind": "Cluster",
        "party": {"id": 9999},
        "bus": {"url": "amqp://guest:guest@127.0.0.1:5672/"},
    }
    doc.update(sections)
    return doc


def spec_of(text: str, base_dir: Path = Path(".")) -> ClusterSpec:
    return parse_cluster(yaml.safe_load(text), base_dir=base_dir)
