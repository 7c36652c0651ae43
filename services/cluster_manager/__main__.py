"""``python -m cluster_manager`` / ``silobridge-cluster-manager``: run the cluster-manager."""

from __future__ import annotations

import os
import sys

from cluster_manager.service import ClusterManagerService
from cluster_manager.settings import ClusterManagerSettings
from silobridge.config import load_settings
from silobridge.observability.logs import configure_logging
from silobridge.observability.metrics import ServiceMetrics
from silobridge.service import Service, instrumented_bus, main_entry


def build() -> Service:
    settings = load_settings(ClusterManagerSettings, os.environ)
    configure_logging(ClusterManagerService.name, settings.party_id, settings.log_level, settings.log_json)
    metrics = ServiceMetrics(ClusterManagerService.name, settings.party_id)
    return ClusterManagerService(settings, instrumented_bus(settings, metrics), metrics)


def main() -> int:
    return main_entry(build)


if __name__ == "__main__":
    sys.exit(main())
