"""Run the operator: one API client, kopf's settings, the watched namespaces."""

from __future__ import annotations

import threading
from typing import Any

import kopf

from silobridge_operator.context import OperatorContext
from silobridge_operator.handlers import configure
from silobridge_operator.kube import Connection, Kube
from silobridge_operator.settings import OperatorSettings


async def run_operator(
    settings: OperatorSettings,
    conn: Connection,
    registry: kopf.OperatorRegistry,
    *,
    stop_flag: threading.Event | None = None,
    ready_flag: threading.Event | None = None,
) -> None:
    kube = Kube(conn)
    kopf_settings = kopf.OperatorSettings()
    configure(kopf_settings)
    scope: dict[str, Any] = (
        {"namespaces": settings.namespaces} if settings.namespaces else {"clusterwide": True}
    )
    try:
        await kopf.operator(
            registry=registry,
            settings=kopf_settings,
            memo=kopf.Memo(ctx=OperatorContext(settings, kube)),
            standalone=True,
            stop_flag=stop_flag,
            ready_flag=ready_flag,
            **scope,
        )
    finally:
        await kube.close()
