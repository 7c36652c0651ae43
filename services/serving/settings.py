"""Settings of the serving service (``SILOBRIDGE_<FIELD>``)."""

from __future__ import annotations

from pydantic import Field

from silobridge.config import CommonSettings


class ServingSettings(CommonSettings):
    http_port: int = Field(
        9390, ge=0, le=65535, description="Score and admin API, /healthz, /readyz, /metrics"
    )
    host_timeout_s: float = Field(
        2.0, gt=0, le=60, description="How long the guest waits for one host's partial scores"
    )
    max_batch: int = Field(
        256,
        ge=1,
        le=10_000,
        description="Most ids in one request to a host (concurrent requests are batched)",
    )
    max_inflight: int = Field(
        2,
        ge=1,
        le=64,
        description="Requests in flight to one host per model; further ids wait and leave as one batch",
    )
    admin_token_file: str = Field(
        "",
        description="File holding the admin token for deploy/rollback (>= 32 characters); "
        "empty: one is generated into <data_dir>/admin.token on first start",
    )
    replica: str = Field(
        "",
        description="This replica's name in reply topics ([A-Za-z0-9_-]); empty: a random one per start",
    )
    rpc_timeout_s: float = Field(
        30.0, gt=0, description="Cluster-manager and node-manager requests at deploy"
    )
