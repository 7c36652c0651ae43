"""Render the chart with a real helm and read back what each container is started with.

helm comes from ``deploy/dev/fetch_helm.py`` (a PyPI package that ships it, cached outside the
repository). Without it the tests skip, naming why; with ``SILOBRIDGE_REQUIRE_HELM`` set (CI)
they fail instead.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy_helpers import CHART, ROOT

FETCH = ROOT / "deploy" / "dev" / "fetch_helm.py"
WORKLOADS = ("Deployment", "StatefulSet")
RELEASE, NAMESPACE = "bank-a", "bank-a"
VAR_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


@functools.cache
def _fetch() -> tuple[str | None, str]:
    proc = subprocess.run([sys.executable, str(FETCH)], capture_output=True, text=True, timeout=600)
    if proc.returncode == 0:
        return proc.stdout.strip().splitlines()[-1], ""
    return None, (proc.stderr.strip().splitlines() or ["no output"])[-1]


def helm() -> str:
    path, why = _fetch()
    if path is None:
        if os.environ.get("SILOBRIDGE_REQUIRE_HELM"):
            pytest.fail(f"helm is required (SILOBRIDGE_REQUIRE_HELM) but {why}", pytrace=False)
        pytest.skip(f"no helm binary: {why}")
    return path


def render(values: dict[str, Any] | None, tmp: Path, *extra: str) -> list[dict[str, Any]]:
    """``helm template`` of the chart, with ``values`` in a file (as a user's -f would be)."""
    return render_text(None if values is None else yaml.safe_dump(values, sort_keys=False), tmp, *extra)


def render_text(values_text: str | None, tmp: Path, *extra: str) -> list[dict[str, Any]]:
    """Like :func:`render`, from the exact text (e.g. what ``silobridge cluster render`` wrote)."""
    cmd = [helm(), "template", RELEASE, str(CHART), "--namespace", NAMESPACE, *extra]
    if values_text is not None:
        path = tmp / "values.yaml"
        path.write_text(values_text)
        cmd += ["-f", str(path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


@dataclass
class Container:
    workload: dict[str, Any]
    spec: dict[str, Any]
    init: bool
    env: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.workload['kind']}/{self.workload['metadata']['name']}/{self.spec['name']}"

    @property
    def argv(self) -> list[str]:
        """command + args with Kubernetes' $(VAR) expansion from the container's env."""
        words = [*self.spec.get("command", []), *self.spec.get("args", [])]
        return [VAR_REF.sub(lambda m: self.env.get(m.group(1), m.group(0)), w) for w in words]

    def mount_of(self, path: str) -> dict[str, Any] | None:
        for mount in self.spec.get("volumeMounts", []):
            if path == mount["mountPath"] or path.startswith(mount["mountPath"].rstrip("/") + "/"):
                return dict(mount)
        return None


def pod_name(workload: dict[str, Any]) -> str:
    name = str(workload["metadata"]["name"])
    return f"{name}-0" if workload["kind"] == "StatefulSet" else f"{name}-7d9f8c6b5-x2x4q"


def secret_values(
    docs: list[dict[str, Any]], external: dict[str, dict[str, str]]
) -> dict[str, dict[str, str]]:
    out = {name: dict(data) for name, data in external.items()}
    for d in docs:
        if d["kind"] == "Secret":
            out[d["metadata"]["name"]] = dict(d.get("stringData") or {})
    return out


def containers(
    docs: list[dict[str, Any]], external_secrets: dict[str, dict[str, str]] | None = None
) -> list[Container]:
    """Every container of every workload, with its env resolved as the kubelet would."""
    secrets = secret_values(docs, external_secrets or {})
    out = []
    for w in docs:
        if w["kind"] not in WORKLOADS:
            continue
        pod = w["spec"]["template"]["spec"]
        for init, spec in [(True, c) for c in pod.get("initContainers", [])] + [
            (False, c) for c in pod["containers"]
        ]:
            c = Container(w, spec, init)
            for var in spec.get("env", []):
                c.env[var["name"]] = _resolve(var, w, secrets, c.name)
            out.append(c)
    return out


def _resolve(
    var: dict[str, Any], workload: dict[str, Any], secrets: dict[str, dict[str, str]], where: str
) -> str:
    if "value" in var:
        value = var["value"]
        assert isinstance(value, str), f"{where}: {var['name']} is {value!r}, not a string"
        return value
    source = var["valueFrom"]
    if "fieldRef" in source:
        assert source["fieldRef"]["fieldPath"] == "metadata.name", source
        return pod_name(workload)
    ref = source["secretKeyRef"]
    assert ref["name"] in secrets, (
        f"{where}: {var['name']} needs Secret {ref['name']}, which nothing provides"
    )
    assert ref["key"] in secrets[ref["name"]], f"{where}: Secret {ref['name']} has no key {ref['key']}"
    return secrets[ref["name"]][ref["key"]]


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def pod_specs(docs: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{w['kind']}/{w['metadata']['name']}", w["spec"]["template"]["spec"])
        for w in docs
        if w["kind"] in WORKLOADS
    ]
