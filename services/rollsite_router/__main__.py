"""``python -m rollsite_router``: run one party's router until SIGTERM (exit codes: silobridge.service.ExitCode)."""

from __future__ import annotations

import os
import sys

from rollsite_router.service import RouterService
from rollsite_router.settings import RouterSettings
from silobridge.config import SettingsError, load_settings
from silobridge.errors import InvalidInput
from silobridge.observability.logs import configure_logging
from silobridge.observability.metrics import ServiceMetrics
from silobridge.service import instrumented_bus, main_entry


def build() -> RouterService:
    settings = load_settings(RouterSettings, os.environ)
    configure_logging(RouterService.name, settings.party_id, settings.log_level, settings.log_json)
    metrics = ServiceMetrics(RouterService.name, settings.party_id)
    try:
        return RouterService(settings, instrumented_bus(settings, metrics), metrics)
    except InvalidInput as exc:  # a bad route table or certificate: as bad as a bad variable
        raise SettingsError(str(exc)) from None


def main() -> int:
    return main_entry(build)


if __name__ == "__main__":
    sys.exit(main())
