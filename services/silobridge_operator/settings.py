"""Settings of the operator (``SILOBRIDGE_<FIELD>``), loaded once in ``__main__``."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator


class OperatorSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    namespaces: list[str] = Field(
        default_factory=list, description="Namespaces to watch (comma-separated); empty: the whole cluster"
    )
    kubeconfig: Path | None = Field(
        None, description="kubeconfig to log in with; unset: the pod's service account"
    )
    kube_context: str = Field("", description="Context of the kubeconfig (default: its current one)")
    status_interval_s: float = Field(
        10.0, gt=0, description="How often a cluster's workloads are judged for its conditions"
    )
    job_poll_interval_s: float = Field(5.0, gt=0, description="How often a running job's state is read")
    flow_timeout_s: float = Field(30.0, gt=0, description="Timeout of one call to a party's flow")
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING, ERROR")

    @field_validator("namespaces", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [n for n in value.replace(",", " ").split() if n]
        return value
