"""Small calls the operator tests make to the API server directly (as kubectl would)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import yaml

from silobridge_operator import kube


def apply(api: httpx.Client, obj: dict[str, Any]) -> httpx.Response:
    meta = obj["metadata"]
    path = kube.path_of(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"])
    return api.patch(
        path,
        params={"fieldManager": "test", "force": "true"},
        content=yaml.safe_dump(obj).encode(),
        headers={"Content-Type": "application/apply-patch+yaml"},
    )


def wait_for(what: str, probe: Callable[[], Any], timeout_s: float = 120) -> Any:
    """Poll until ``probe`` returns something truthy; fail naming ``what`` and the last value."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def namespace(api: httpx.Client, name: str) -> str:
    resp = apply(api, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    assert resp.status_code in (200, 201), resp.text
    return name
