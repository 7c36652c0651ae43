"""``python router_recording_main.py``: the router process as ``python -m rollsite_router`` runs it
(settings from SILOBRIDGE_*, SIGTERM handling, exit code), but every inbound message it publishes
on its bus is also written to stdout as ``published <message id>``, once the bus has accepted it.

The SIGTERM test compares that record with what the sender saw acknowledged.
"""

from __future__ import annotations

import sys
from typing import Any

from rollsite_router.__main__ import build
from silobridge.service import main_entry


def build_recording() -> Any:
    service = build()
    inner = service.bus.publish

    async def publish(topic: str, body: bytes, **kwargs: Any) -> None:
        await inner(topic, body, **kwargs)
        print(f"published {kwargs.get('message_id')}", flush=True)

    service.bus.publish = publish  # type: ignore[method-assign]
    return service


if __name__ == "__main__":
    sys.exit(main_entry(build_recording))
