"""``python -m serving`` / ``silobridge-serving``: run the serving service.

Exit codes (``silobridge.service.ExitCode``): 0 stopped by SIGTERM/SIGINT after draining (the
score API and the bus consumers stop, requests in flight finish), 1 crashed, 2 a bad
``SILOBRIDGE_*`` setting (the message names it), 3 could not start (bus, port, token file).
"""

from __future__ import annotations

import os
import sys

from serving.service import ServingService
from serving.settings import ServingSettings
from silobridge.config import load_settings
from silobridge.observability.logs import configure_logging
from silobridge.observability.metrics import ServiceMetrics
from silobridge.service import Service, instrumented_bus, main_entry


def build() -> Service:
    settings = load_settings(ServingSettings, os.environ)
    configure_logging(ServingService.name, settings.party_id, settings.log_level, settings.log_json)
    metrics = ServiceMetrics(ServingService.name, settings.party_id)
    return ServingService(settings, instrumented_bus(settings, metrics), metrics)


def main() -> int:
    return main_entry(build)


if __name__ == "__main__":
    sys.exit(main())
