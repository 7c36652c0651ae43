"""The API server itself accepts every CRD, and every example resource against them."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml
from envtest import REPO
from kubetest import namespace

pytestmark = [pytest.mark.kube, pytest.mark.slow]
EXAMPLES = sorted((REPO / "deploy" / "operator" / "examples").glob("*.yaml"))


def test_every_crd_is_established(crds: list[str]) -> None:
    assert sorted(crds) == [
        "silobridgeclusters.silobridge.io",
        "silobridgejobs.silobridge.io",
        "silobridgepeers.silobridge.io",
    ]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_resources_are_accepted_by_the_api_server(
    api: httpx.Client, crds: list[str], example: Path
) -> None:
    cr = yaml.safe_load(example.read_text())
    namespace(api, cr["metadata"]["namespace"])
    resp = api.post(  # a dry run: nothing is stored
        f"/apis/silobridge.io/v1alpha1/namespaces/{cr['metadata']['namespace']}/{cr['kind'].lower()}s",
        params={"dryRun": "All"},
        json=cr,
    )
    assert resp.status_code == 201, resp.text


def test_a_job_with_a_zero_timeout_is_refused(api: httpx.Client, crds: list[str]) -> None:
    cr = yaml.safe_load((REPO / "deploy/operator/examples/silobridgejob-hetero-lr.yaml").read_text())
    cr["spec"]["timeout_s"] = 0
    namespace(api, cr["metadata"]["namespace"])
    resp = api.post(
        f"/apis/silobridge.io/v1alpha1/namespaces/{cr['metadata']['namespace']}/silobridgejobs",
        params={"dryRun": "All"},
        json=cr,
    )
    assert resp.status_code == 422, resp.text
    assert "timeout_s" in resp.text
