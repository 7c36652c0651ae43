"""``python -m silobridge_operator``: run the operator until SIGTERM (kopf stops its handlers first)."""

from __future__ import annotations

import asyncio
import logging
import os
import sys

from silobridge.config import load_settings
from silobridge.errors import InvalidInput
from silobridge_operator import kube
from silobridge_operator.handlers import registry
from silobridge_operator.runner import run_operator
from silobridge_operator.settings import OperatorSettings


def connection(settings: OperatorSettings) -> kube.Connection:
    if settings.kubeconfig is not None:
        return kube.from_kubeconfig(settings.kubeconfig, settings.kube_context or None)
    host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if not host:
        raise InvalidInput("not in a pod and SILOBRIDGE_KUBECONFIG is unset: nothing to log in with")
    return kube.in_cluster(host=host, port=port)


def main() -> int:
    try:
        settings = load_settings(OperatorSettings, os.environ)
        conn = connection(settings)
    except (InvalidInput, OSError, ValueError) as exc:
        print(f"silobridge-operator: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(run_operator(settings, conn, registry(settings, conn)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
