"""A submitted job: wait for it with a progress bar, then read its summaries, metrics and models.

Everything is read from the flow the job was submitted at, so metrics and models are that party's
own (a party never sees another party's model).
"""

from __future__ import annotations

from typing import Any, TextIO

from silobridge.client.flow_api import FlowClient
from silobridge.client.progress import JobProgress
from silobridge.errors import InvalidInput, NotFound
from silobridge.federation import codec


class Job:
    def __init__(self, client: FlowClient, job_id: str) -> None:
        self.client = client
        self.job_id = job_id
        self.detail: dict[str, Any] = {}

    def refresh(self) -> dict[str, Any]:
        self.detail = self.client.job(self.job_id)
        return self.detail

    @property
    def state(self) -> str:
        return str((self.detail or self.refresh())["state"])

    def wait(
        self,
        timeout_s: float = 3600.0,
        *,
        progress: bool | None = None,
        stream: TextIO | None = None,
        poll_s: float = 1.0,
    ) -> dict[str, Any]:
        """Poll until the job ends; a progress bar on ``stream`` (stderr), by default on a terminal only."""
        bar = JobProgress(stream, enabled=progress)

        def seen(detail: dict[str, Any]) -> None:
            self.detail = detail
            bar(detail)

        try:
            return self.client.wait_job(self.job_id, timeout_s=timeout_s, poll_s=poll_s, on_update=seen)
        finally:
            bar.close()

    def stop(self) -> str:
        out = self.client.request("POST", f"/v1/jobs/{self.job_id}/stop")
        return str(out["state"])

    def summary(self, task: str, role: str | None = None) -> dict[str, float]:
        """A task's summary (auc, rows, ...) at this party, or at the party of ``role``."""
        detail = self.detail or self.refresh()
        for t in detail["tasks"]:
            if t["name"] == task and (
                t["party_id"] == detail["party_id"] if role is None else t["role"] == role
            ):
                return dict(t.get("summary") or {})
        where = f"role {role}" if role else f"party {detail['party_id']}"
        raise NotFound(f"no task {task!r} at {where} in job {self.job_id}")

    def metrics(self, task: str) -> dict[str, list[tuple[int, float]]]:
        """``{name: [(step, value), ...]}`` of this party's run of ``task`` (loss per epoch, ...)."""
        series = self.client.task_metrics(self.job_id, task)
        return {
            name: [(int(p["step"]), float(p["value"])) for p in points] for name, points in series.items()
        }

    def models(self) -> list[str]:
        """Tasks with a model at this party."""
        return [str(m["task"]) for m in self.client.models(self.job_id)]

    def model(self, task: str) -> dict[str, Any]:
        """This party's model of ``task``, decoded (numpy arrays, numbers, nested dicts)."""
        value = codec.from_bytes(self.client.model_bytes(self.job_id, task))
        if not isinstance(value, dict):
            raise InvalidInput(f"the model of task {task!r} is not a mapping")
        return value

    def model_bytes(self, task: str) -> bytes:
        """The model as flow stores it (serialised ``silobridge.federation.v1.Value``)."""
        return self.client.model_bytes(self.job_id, task)

    def __repr__(self) -> str:
        return f"<Job {self.job_id} at {self.client.url}>"
