"""``python router_recording_main.py``: the router process as ``python -m rollsite_router`` runs it
(settings from SILOBRIDGE_*, SIGTERM handling, exit code), but every inbound message it publishes
on its bus is also written to stdout as ``published <message id>``, once the bus has accepted it.
The job of the test session is admitted, as flow would have told the router.

The SIGTERM test compares that record with what the sender saw acknowledged.
"""

from __future__ import annotations

import sys
from typing import Any

from router_itest_helpers import SESSION_JOB

from rollsite_router.__main__ import build
from silobridge.router.v1 import router_pb2
from silobridge.service import main_entry


def build_recording() -> Any:
    service = build()
    service.admissions.apply(
        router_pb2.JobAdmissionUpdate(job_id=SESSION_JOB, admission=router_pb2.JOB_ADMISSION_OPEN)
    )
    inner = service.bus.publish

    async def publish(topic: str, body: bytes, **kwargs: Any) -> None:
        await inner(topic, body, **kwargs)
        print(f"published {kwargs.get('message_id')}", flush=True)

    service.bus.publish = publish  # type: ignore[method-assign]
    return service


if __name__ == "__main__":
    sys.exit(main_entry(build_recording))
