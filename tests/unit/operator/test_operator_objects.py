"""The operator's pure parts, without an API server: rendered containers start with settings
their services accept, conditions from workload states, peer checks, job status."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from silobridge import pki
from silobridge.config import load_settings
from silobridge_cli.deploy import services as svc
from silobridge_operator import conditions, objects
from silobridge_operator.job import job_id_of, job_status, job_yaml
from silobridge_operator.peer import peer_problem

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = sorted((REPO / "deploy/operator/examples").glob("silobridgecluster-*.yaml"))


def settings_class(service: svc.ServiceDef) -> Any:
    module, _, name = service.settings.partition(":")
    return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_every_container_env_loads_into_its_service_settings(example: Path) -> None:
    cr = yaml.safe_load(example.read_text())
    spec = objects.parse_spec(cr["spec"], source=example.name)
    secret = objects.url_secret("x", "ns", spec)["stringData"]
    by_name = {s.key.replace("_", "-"): s for s in svc.SERVICES}
    workloads = [
        o for o in objects.party_objects("x", "ns", spec) if o["kind"] in ("Deployment", "StatefulSet")
    ]
    assert len(workloads) == 5
    (serving,) = [w for w in workloads if w["metadata"]["name"] == "x-serving"]
    # the deployed versions survive a restart: a volume claim of its own, one replica
    assert serving["kind"] == "StatefulSet" and serving["spec"]["replicas"] == 1
    assert serving["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"] == {"storage": "1Gi"}
    for w in workloads:
        (container,) = w["spec"]["template"]["spec"]["containers"]
        env: dict[str, str] = {}
        for var in container["env"]:
            if "value" in var:
                env[var["name"]] = var["value"]
            elif "secretKeyRef" in var["valueFrom"]:
                env[var["name"]] = secret[var["valueFrom"]["secretKeyRef"]["key"]]
            else:  # the pod's name
                env[var["name"]] = f"{w['metadata']['name']}-0"
        service = by_name[container["name"]]
        loaded = load_settings(settings_class(service), env)
        assert loaded.party_id == spec.party_id
        assert container["command"] == ["python", "-m", service.module]


def test_existing_secrets_are_referenced_and_no_url_is_rendered() -> None:
    cr = yaml.safe_load(EXAMPLES[0].read_text())
    cr["spec"]["bus"] = {"existing_secret": {"name": "bus-creds"}}
    cr["spec"]["database"] = {"existing_secret": {"name": "db-creds", "key": "url"}}
    spec = objects.parse_spec(cr["spec"], source="x")
    rendered = objects.party_objects("x", "ns", spec)
    assert [o for o in rendered if o["kind"] == "Secret"] == []
    flow = next(o for o in rendered if o["metadata"]["name"] == "x-flow" and o["kind"] == "Deployment")
    env = {e["name"]: e for e in flow["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["SILOBRIDGE_BUS_URL"]["valueFrom"]["secretKeyRef"] == {"name": "bus-creds", "key": "bus-url"}
    assert env["SILOBRIDGE_DB_URL"]["valueFrom"]["secretKeyRef"] == {"name": "db-creds", "key": "url"}


def workload(kind: str = "Deployment", **status: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "metadata": {"name": "w", "generation": 2},
        "spec": {"replicas": 1},
        "status": status,
    }


def test_conditions_follow_a_rollout_and_a_failed_upgrade() -> None:
    done = workload(observedGeneration=2, updatedReplicas=1, availableReplicas=1)
    first = conditions.cluster_status({}, conditions.judge([workload()]), generation=1, target_version="1")
    assert (first["phase"], first["conditions"][1]["reason"]) == ("Deploying", "Deploying")
    assert "version" not in first
    ready = conditions.cluster_status(first, conditions.judge([done]), generation=1, target_version="1")
    assert ready["phase"] == "Ready" and ready["version"] == "1"
    assert ready["conditions"][0]["status"] == "True"
    stuck = workload(
        observedGeneration=2,
        updatedReplicas=0,
        availableReplicas=1,
        conditions=[{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}],
    )
    failed = conditions.cluster_status(ready, conditions.judge([stuck]), generation=2, target_version="2")
    degraded = failed["conditions"][2]
    assert (degraded["status"], degraded["reason"]) == ("True", "UpgradeFailed")
    assert failed["version"] == "1" and failed["targetVersion"] == "2"


def test_a_condition_keeps_its_transition_time_while_unchanged() -> None:
    old = [{"type": "Ready", "status": "False", "lastTransitionTime": "2020-01-01T00:00:00Z"}]
    same = conditions.condition(old, "Ready", False, "x", "", 3)
    moved = conditions.condition(old, "Ready", True, "x", "", 3)
    assert same["lastTransitionTime"] == "2020-01-01T00:00:00Z"
    assert moved["lastTransitionTime"] != "2020-01-01T00:00:00Z"


def test_peer_checks(tmp_path: Path) -> None:
    pki.ensure_pki(tmp_path, [10002])
    ca = (tmp_path / "ca.crt").read_text()
    leaf = (tmp_path / "party-10002.crt").read_text()
    assert peer_problem({"partyId": 10002, "trust": {"caCert": ca}}, 9999) is None
    assert "not a CA" in str(peer_problem({"partyId": 10002, "trust": {"caCert": leaf}}, 9999))
    assert "this party itself" in str(peer_problem({"partyId": 9999}, 9999))
    assert "not a PEM" in str(peer_problem({"partyId": 10002, "trust": {"caCert": "junk"}}))
    assert "over the limit" in str(peer_problem({"partyId": 10002, "trust": {"caCert": ca * 40}}))


def test_job_yaml_drops_the_operator_fields_and_pins_the_id() -> None:
    body = {
        "metadata": {"name": "credit.lr", "uid": "0123abcd-4567-89ef-0000-000000000000"},
        "spec": {
            "flowUrl": "http://f",
            "credentials": {"secretName": "t"},
            "parties": {"guest": [1]},
            "components": [],
        },
    }
    doc = yaml.safe_load(job_yaml(body))
    assert set(doc) == {"parties", "components", "job_id"}
    assert doc["job_id"] == job_id_of(body) == "credit-lr-0123abcd4567"


def test_job_status_counts_this_partys_tasks() -> None:
    detail = {
        "job_id": "j",
        "state": "RUNNING",
        "party_id": 1,
        "tasks": [
            {"name": "a", "party_id": 1, "state": "SUCCEEDED", "metrics": {"auc": 0.9}},
            {"name": "b", "party_id": 1, "state": "RUNNING", "progress": 0.5},
            {"name": "a", "party_id": 2, "state": "RUNNING"},
        ],
    }
    st = job_status(detail, 1)
    assert st["progress"] == "1/2 tasks"
    assert st["metrics"] == {"a.auc": "0.9"}
    assert [t["name"] for t in st["tasks"]] == ["a", "b"]
