"""``silobridge cluster install|upgrade|list|describe|delete`` against the real API server, with
the operator running: the CLI's resource becomes a party whose status the CLI shows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from envtest import REPO, ControlPlane
from kubetest import namespace, wait_for

pytestmark = [pytest.mark.kube, pytest.mark.slow]
CR = "/apis/silobridge.io/v1alpha1/namespaces/cli-party/silobridgeclusters/bank-a"


def cli(plane: ControlPlane, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [
        sys.executable,
        "-m",
        "silobridge_cli.main",
        "cluster",
        *args,
        "--kubeconfig",
        str(plane.kubeconfig),
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=REPO)


def test_install_upgrade_list_describe_delete(
    api: httpx.Client, plane: ControlPlane, operator: Any, tmp_path: Path
) -> None:
    namespace(api, "cli-party")
    source = REPO / "deploy/examples/cluster-9999.yaml"
    out = cli(plane, "install", "-f", str(source), "-n", "cli-party")
    assert out.returncode == 0, out.stderr
    again = cli(plane, "install", "-f", str(source), "-n", "cli-party")
    assert again.returncode != 0 and "already exists" in again.stderr

    wait_for("the operator's conditions", lambda: (api.get(CR).json().get("status") or {}).get("conditions"))
    listed = cli(plane, "list", "-n", "cli-party")
    assert listed.returncode == 0, listed.stderr
    assert "bank-a" in listed.stdout and "9999" in listed.stdout and "Deploying" in listed.stdout
    described = cli(plane, "describe", "--name", "bank-a", "-n", "cli-party")
    assert "Progressing  True" in described.stdout, described.stdout

    doc = yaml.safe_load(source.read_text())
    doc["images"] = {"tag": "0.2.0"}
    bumped = tmp_path / "cluster.yaml"
    bumped.write_text(yaml.safe_dump(doc))
    assert cli(plane, "upgrade", "-f", str(bumped), "-n", "cli-party").returncode == 0
    got = api.get(CR).json()
    assert got["metadata"]["generation"] == 2 and got["spec"]["images"]["tag"] == "0.2.0"
    image = wait_for(
        "the new image",
        lambda: (
            api.get("/apis/apps/v1/namespaces/cli-party/deployments/bank-a-router")
            .json()["spec"]["template"]["spec"]["containers"][0]["image"]
            .endswith(":0.2.0")
        ),
    )
    assert image

    assert cli(plane, "delete", "--name", "bank-a", "-n", "cli-party").returncode == 0
    wait_for("the resource to go", lambda: api.get(CR).status_code == 404)
    gone = cli(plane, "describe", "--name", "bank-a", "-n", "cli-party")
    assert gone.returncode != 0 and "not found" in gone.stderr


def test_dry_run_prints_the_resource_and_contacts_nothing(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "nowhere"
    kubeconfig.write_text("")
    cmd = [sys.executable, "-m", "silobridge_cli.main", "cluster", "install", "--dry-run"]
    cmd += ["-f", str(REPO / "deploy/examples/cluster-10000.yaml"), "--kubeconfig", str(kubeconfig)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=REPO)
    assert out.returncode == 0, out.stderr
    cr = yaml.safe_load(out.stdout)
    assert cr["kind"] == "SilobridgeCluster"
    assert cr["metadata"] == {"name": "insurer-b", "namespace": "silobridge-10000"}
    assert cr["spec"]["party"]["id"] == 10000
