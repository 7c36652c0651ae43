"""Structured JSON logs with party/job/task on every line (from context variables)."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

party_var: contextvars.ContextVar[str] = contextvars.ContextVar("party", default="")
service_var: contextvars.ContextVar[str] = contextvars.ContextVar("service", default="")
job_var: contextvars.ContextVar[str] = contextvars.ContextVar("job_id", default="")
task_var: contextvars.ContextVar[str] = contextvars.ContextVar("task", default="")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "service": getattr(record, "service", None) or service_var.get(),
            "party": getattr(record, "party", None) or party_var.get(),
            "job_id": getattr(record, "job_id", None) or job_var.get(),
            "task": getattr(record, "task", None) or task_var.get(),
        }
        for key in (
            "peer",
            "topic",
            "size",
            "digest",
            "message_id",
            "event",
            "port",
            "direction",
            "src_party",
            "dst_party",
            "session",
            "var_name",
            "tag",
            "actor",
            "decision",
            "reason",
        ):
            if hasattr(record, key):
                out[key] = getattr(record, key)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def configure_logging(service: str, party_id: int, level: str = "INFO", json_logs: bool = True) -> None:
    service_var.set(service)
    party_var.set(str(party_id))
    handler = logging.StreamHandler(sys.stderr)
    if json_logs:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiormq", "aio_pika", "uvicorn.access", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@contextmanager
def job_context(job_id: str, task: str = "") -> Iterator[None]:
    t1, t2 = job_var.set(job_id), task_var.set(task)
    try:
        yield
    finally:
        job_var.reset(t1)
        task_var.reset(t2)
