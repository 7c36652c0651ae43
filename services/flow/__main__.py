"""``python -m flow`` / ``silobridge-flow``: the flow service of one party."""

from __future__ import annotations

import os
import sys

from flow.service import FlowService
from flow.settings import FlowSettings
from silobridge.config import load_settings
from silobridge.observability.logs import configure_logging
from silobridge.observability.metrics import ServiceMetrics
from silobridge.service import instrumented_bus, main_entry


def build() -> FlowService:
    settings = load_settings(FlowSettings, os.environ)
    configure_logging("flow", settings.party_id, settings.log_level, settings.log_json)
    metrics = ServiceMetrics("flow", settings.party_id)
    return FlowService(settings, instrumented_bus(settings, metrics), metrics)


def main() -> int:
    return main_entry(build)


if __name__ == "__main__":
    sys.exit(main())
