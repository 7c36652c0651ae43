"""``python -m rollsite_router``: run one party's router until SIGTERM (exit codes: silobridge.service.ExitCode).

SIGHUP reloads the route table, the router's certificate, key and CA bundle, and the revocation
list, without a restart (the router also polls those files); a file that cannot be used is
logged and refused, and what is in force stays.
"""

from __future__ import annotations

import contextlib
import os
import signal
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
        service = RouterService(settings, instrumented_bus(settings, metrics), metrics)
    except InvalidInput as exc:  # a bad route table or certificate: as bad as a bad variable
        raise SettingsError(str(exc)) from None
    # The handler runs in the main thread, which runs the service's loop; the reload is scheduled
    # on that loop (request_reload is safe to call from a signal handler).
    with contextlib.suppress(ValueError):  # built outside the main thread (embedded): no SIGHUP
        signal.signal(signal.SIGHUP, lambda _signum, _frame: service.request_reload())
    return service


def main() -> int:
    return main_entry(build)


if __name__ == "__main__":
    sys.exit(main())
