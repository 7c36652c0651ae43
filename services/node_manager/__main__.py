"""``python -m node_manager`` / ``silobridge-node-manager``: run one node-manager."""

from __future__ import annotations

import os
import sys

from node_manager.service import NodeManagerService
from node_manager.settings import NodeManagerSettings
from silobridge.config import load_settings
from silobridge.observability.logs import configure_logging
from silobridge.observability.metrics import ServiceMetrics
from silobridge.service import Service, instrumented_bus, main_entry


def build() -> Service:
    settings = load_settings(NodeManagerSettings, os.environ)
    configure_logging(NodeManagerService.name, settings.party_id, settings.log_level, settings.log_json)
    metrics = ServiceMetrics(NodeManagerService.name, settings.party_id)
    return NodeManagerService(settings, instrumented_bus(settings, metrics), metrics)


def main() -> int:
    return main_entry(build)


if __name__ == "__main__":
    sys.exit(main())
