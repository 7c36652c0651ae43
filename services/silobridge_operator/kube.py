"""A small Kubernetes API client: server-side apply, get, delete and status patches over httpx.

kopf watches and patches the custom resources itself; the handlers need only these few calls for
the objects they own, so no second client library is pulled in. Errors map onto kopf's two kinds:
conflicts, throttling and server errors are temporary (retried), a refused object is permanent.
"""

from __future__ import annotations

import base64
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx
import yaml

FIELD_MANAGER = "silobridge-operator"
SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
_CORE = {"ConfigMap", "Secret", "Service", "ServiceAccount", "Pod", "Namespace"}
_GROUPED = {
    "Deployment": "apps/v1",
    "StatefulSet": "apps/v1",
    "NetworkPolicy": "networking.k8s.io/v1",
    "PodDisruptionBudget": "policy/v1",
}


class KubeError(Exception):
    """An API call failed; ``temporary`` says whether a retry may succeed."""

    def __init__(self, message: str, *, status: int, temporary: bool) -> None:
        super().__init__(message)
        self.status = status
        self.temporary = temporary


@dataclass(frozen=True)
class Connection:
    server: str
    token: str | None = None
    ca_file: Path | None = None
    ca_data: bytes | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    insecure: bool = False

    def ssl_context(self) -> ssl.SSLContext | bool:
        if self.insecure:
            return False
        ctx = ssl.create_default_context()
        if self.ca_file is not None:
            ctx.load_verify_locations(cafile=str(self.ca_file))
        if self.ca_data is not None:
            ctx.load_verify_locations(cadata=self.ca_data.decode())
        if self.cert_file is not None:
            ctx.load_cert_chain(str(self.cert_file), str(self.key_file) if self.key_file else None)
        return ctx


def in_cluster(sa_dir: Path = SA_DIR, *, host: str, port: str) -> Connection:
    """The pod's service account (the operator's Deployment)."""
    return Connection(
        server=f"https://{host}:{port}",
        token=(sa_dir / "token").read_text().strip(),
        ca_file=sa_dir / "ca.crt",
    )


def from_kubeconfig(path: Path, context: str | None = None) -> Connection:
    """The current (or named) context of a kubeconfig: token or client certificate, CA by file or data."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    name = context or doc.get("current-context")
    ctx = _named(doc, "contexts", name, "context")
    cluster = _named(doc, "clusters", ctx.get("cluster"), "cluster")
    user = _named(doc, "users", ctx.get("user"), "user")
    base = path.parent

    def rel(value: str | None) -> Path | None:
        return None if value is None else base / value

    ca_data = cluster.get("certificate-authority-data")
    return Connection(
        server=str(cluster["server"]).rstrip("/"),
        token=user.get("token"),
        ca_file=rel(cluster.get("certificate-authority")),
        ca_data=base64.b64decode(ca_data) if ca_data else None,
        cert_file=rel(user.get("client-certificate")),
        key_file=rel(user.get("client-key")),
        insecure=bool(cluster.get("insecure-skip-tls-verify", False)),
    )


def _named(doc: dict[str, Any], section: str, name: Any, key: str) -> dict[str, Any]:
    for item in doc.get(section) or []:
        if item.get("name") == name:
            return cast(dict[str, Any], item.get(key) or {})
    raise ValueError(f"kubeconfig has no {section[:-1]} named {name!r}")


def path_of(api_version: str, kind: str, namespace: str | None, name: str | None = None) -> str:
    """REST path of an object (or of its collection when ``name`` is None)."""
    plural = kind.lower() + ("es" if kind.endswith("s") else "s")
    if kind == "NetworkPolicy":
        plural = "networkpolicies"
    base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    ns = f"/namespaces/{namespace}" if namespace else ""
    return f"{base}{ns}/{plural}" + (f"/{name}" if name else "")


class Kube:
    """One HTTP/2-less httpx client per operator; every call raises :class:`KubeError` on failure."""

    def __init__(self, conn: Connection, *, timeout_s: float = 30.0) -> None:
        headers = {"Authorization": f"Bearer {conn.token}"} if conn.token else {}
        self._http = httpx.AsyncClient(
            base_url=conn.server, headers=headers, verify=conn.ssl_context(), timeout=timeout_s
        )

    async def close(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, **kw: Any) -> dict[str, Any] | None:
        try:
            resp = await self._http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise KubeError(f"{method} {path}: {exc}", status=0, temporary=True) from None
        if resp.status_code == 404 and method in ("GET", "DELETE"):
            return None
        if resp.status_code >= 400:
            try:
                message = resp.json().get("message", resp.text)
            except ValueError:
                message = resp.text
            temporary = resp.status_code in (409, 429) or resp.status_code >= 500
            raise KubeError(
                f"{method} {path}: {resp.status_code} {message}", status=resp.status_code, temporary=temporary
            )
        return cast(dict[str, Any], resp.json())

    async def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Server-side apply: the operator owns the fields it sets, and nothing else."""
        meta = obj["metadata"]
        path = path_of(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"])
        out = await self._call(
            "PATCH",
            path,
            params={"fieldManager": FIELD_MANAGER, "force": "true"},
            content=yaml.safe_dump(obj).encode(),
            headers={"Content-Type": "application/apply-patch+yaml"},
        )
        assert out is not None
        return out

    async def get(
        self, api_version: str, kind: str, namespace: str | None, name: str
    ) -> dict[str, Any] | None:
        return await self._call("GET", path_of(api_version, kind, namespace, name))

    async def list(
        self, api_version: str, kind: str, namespace: str | None, **params: str
    ) -> list[dict[str, Any]]:
        out = await self._call("GET", path_of(api_version, kind, namespace), params=params)
        return list((out or {}).get("items") or [])

    async def delete(self, api_version: str, kind: str, namespace: str | None, name: str) -> None:
        await self._call("DELETE", path_of(api_version, kind, namespace, name))

    async def patch_status(
        self, api_version: str, kind: str, namespace: str | None, name: str, status: dict[str, Any]
    ) -> dict[str, Any]:
        out = await self._call(
            "PATCH",
            path_of(api_version, kind, namespace, name) + "/status",
            json={"status": status},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert out is not None
        return out


def api_version_of(kind: str) -> str:
    if kind in _CORE:
        return "v1"
    return _GROUPED[kind]
