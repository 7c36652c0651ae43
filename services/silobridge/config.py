"""Typed settings, loaded once in each ``__main__`` from the environment and passed down.

Every field ``foo`` of a settings model is read from ``SILOBRIDGE_FOO``. Nothing below the
settings layer reads ``os.environ``. A bad value raises :class:`SettingsError` that names the
variable.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from silobridge.errors import InvalidInput

ENV_PREFIX = "SILOBRIDGE_"


class SettingsError(InvalidInput):
    pass


class CommonSettings(BaseModel):
    """What every service needs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    party_id: int = Field(9999, ge=1, description="This party's id")
    bus_url: str = Field(
        "memory://party", description="memory://, amqp://user:pw@host:5672/ or pulsar://host:6650"
    )
    bus_prefix: str = Field("", description="Namespace on a shared broker (default: p<party_id>)")
    http_host: str = Field("127.0.0.1", description="Bind address of /healthz, /readyz, /metrics")
    http_port: int = Field(0, ge=0, le=65535, description="0 picks a free port")
    data_dir: Path = Field(Path(".silobridge"), description="Where this service keeps its files")
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING, ERROR")
    log_json: bool = Field(True, description="Structured JSON logs")

    @property
    def prefix(self) -> str:
        return self.bus_prefix or f"p{self.party_id}"


S = TypeVar("S", bound=BaseModel)


def load_settings(model: type[S], environ: Mapping[str, str], **overrides: object) -> S:
    """Build ``model`` from ``SILOBRIDGE_*`` variables (plus explicit overrides)."""
    values: dict[str, object] = {}
    for name in model.model_fields:
        key = ENV_PREFIX + name.upper()
        if key in environ:
            values[name] = environ[key]
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "?"
            problems.append(f"{ENV_PREFIX}{field.upper()}: {err['msg']}")
        raise SettingsError("invalid settings: " + "; ".join(problems)) from None
