"""Pulsar's admin REST API, for the one thing a party needs before its bus starts: its own
tenant/namespace with the policies :mod:`silobridge.bus.pulsar` relies on. Plain HTTP (httpx),
so that nothing but :mod:`silobridge.bus.pulsar` imports the pulsar client."""

from __future__ import annotations

import httpx

from silobridge.bus.base import check_word
from silobridge.errors import BusUnavailable


def ensure_namespace(
    admin_url: str, tenant: str, namespace: str, *, cluster: str = "standalone", timeout: float = 30.0
) -> None:
    """Create ``tenant``/``namespace`` if missing (idempotent) and turn deduplication off on it.

    Off, whatever the broker's default: broker-side deduplication drops a producer's second
    message after a restart cut off its first (see :mod:`silobridge.bus.pulsar`); silobridge's
    consumers are idempotent on the message id instead.
    """
    check_word(tenant, "Pulsar tenant")
    check_word(namespace, "Pulsar namespace")
    base = admin_url.rstrip("/") + "/admin/v2"
    with httpx.Client(timeout=timeout) as http:
        try:
            _put_unless_exists(
                http, f"{base}/tenants/{tenant}", {"allowedClusters": [cluster], "adminRoles": []}
            )
            _put_unless_exists(http, f"{base}/namespaces/{tenant}/{namespace}", {})
            dedup = http.post(f"{base}/namespaces/{tenant}/{namespace}/deduplication", json=False)
            dedup.raise_for_status()
        except httpx.HTTPError as exc:
            raise BusUnavailable(
                f"Pulsar admin at {admin_url}: cannot prepare {tenant}/{namespace}: {exc}"
            ) from exc


def _put_unless_exists(http: httpx.Client, url: str, body: object) -> None:
    response = http.put(url, json=body)
    if response.status_code != 409:  # 409: it exists already
        response.raise_for_status()
