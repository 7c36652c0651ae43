from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))

from envtest import CRDS, ControlPlane, Unavailable, control_plane
from kubetest import apply, wait_for

from silobridge_operator import kube
from silobridge_operator.handlers import registry
from silobridge_operator.runner import run_operator
from silobridge_operator.settings import OperatorSettings

GROUP_PATH = "/apis/silobridge.io/v1alpha1"


@pytest.fixture(scope="session")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    try:
        with control_plane(tmp_path_factory.mktemp("envtest")) as p:
            yield p
    except Unavailable as exc:
        pytest.skip(f"no kube-apiserver/etcd: {exc}")


@pytest.fixture(scope="session")
def api(plane: ControlPlane) -> Iterator[httpx.Client]:
    with plane.client() as client:
        yield client


@pytest.fixture(scope="session")
def crds(api: httpx.Client) -> list[str]:
    names = []
    for path in sorted(CRDS.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        resp = apply(api, crd)
        assert resp.status_code in (200, 201), (path.name, resp.text)
        names.append(crd["metadata"]["name"])

    def established() -> bool:
        for name in names:
            got = api.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}").json()
            conds = {c["type"]: c["status"] for c in (got.get("status") or {}).get("conditions") or []}
            if conds.get("Established") != "True":
                return False
        return True

    wait_for("the CRDs to be established", established)
    return names


@pytest.fixture(scope="session")
def operator(plane: ControlPlane, crds: list[str]) -> Iterator[OperatorSettings]:
    settings = OperatorSettings(kubeconfig=plane.kubeconfig, status_interval_s=1.0, job_poll_interval_s=1.0)
    conn = kube.from_kubeconfig(plane.kubeconfig)
    stop, ready = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(
                run_operator(settings, conn, registry(settings, conn), stop_flag=stop, ready_flag=ready)
            )
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, name="operator", daemon=True)
    thread.start()
    assert ready.wait(60) or errors, "operator did not start"
    assert not errors, errors
    yield settings
    stop.set()
    thread.join(60)
