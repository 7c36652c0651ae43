"""Settings of a node-manager (``SILOBRIDGE_<FIELD>``)."""

from __future__ import annotations

import re
import socket
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from silobridge.config import CommonSettings
from silobridge.disclosure import DEFAULT_MIN_AGGREGATION_ROWS, DisclosureLimits
from silobridge.federation.context import DEFAULT_RECV_TIMEOUT_S


def default_node_id(hostname: str, party_id: object) -> str:
    """``<host>-p<party>`` with the host name reduced to the characters a topic word allows."""
    host = re.sub(r"[^A-Za-z0-9_\-]+", "-", hostname.split(".")[0]).strip("-")[:48] or "node"
    return f"{host}-p{party_id}"


class NodeManagerSettings(CommonSettings):
    node_id: str = Field("", description="This node's id (default: <hostname>-p<party_id>)")
    compute_backend: Literal["local", "processes", "ray"] = Field(
        "local", description="Backend for heavy work"
    )
    compute_workers: int = Field(0, ge=0, description="Parallel workers per task (0 = CPU count)")
    ray_address: str = Field("", description="This party's Ray cluster (never another party's); empty = none")
    ray_temp_dir: str = Field(
        "",
        description="Temp dir of this node-manager's own Ray node, to attach to it where several Ray "
        "nodes share a host (the local launcher); empty = the Ray node of this host (a pod's sidecar)",
    )
    heartbeat_interval_s: float = Field(
        2.0, gt=0, description="Heartbeat interval (same variable as cluster-manager)"
    )
    max_concurrent_tasks: int = Field(4, ge=1, description="Tasks running at once; more wait")
    task_default_timeout_s: float = Field(
        24 * 3600.0, gt=0, description="Timeout of a RunTask that sets none"
    )
    task_recv_timeout_s: float = Field(
        DEFAULT_RECV_TIMEOUT_S,
        gt=0,
        description="How long a task waits for one value from another party before it fails; a party "
        "whose next value follows a long phase at the others (the arbiter of an LR during a PSI over "
        "millions of ids) needs more",
    )
    default_partitions: int = Field(
        4, ge=1, le=1024, description="Partitions of a stored table that asks for none"
    )
    rpc_timeout_s: float = Field(5.0, gt=0, description="How long to wait for the cluster-manager to answer")
    rpc_retry_window_s: float = Field(
        60.0,
        ge=0,
        description="How long a table request to the cluster-manager is sent again while unanswered "
        "(a broker restart); 0 = once",
    )
    min_aggregation_rows: int = Field(
        DEFAULT_MIN_AGGREGATION_ROWS,
        ge=1,
        description="k: no value computed from another party's rows covers fewer rows (jobs cannot lower it)",
    )

    max_upload_bytes: int = Field(
        4 * 1024**3, gt=0, description="Largest CSV upload spooled to disk (parsed from there batch by batch)"
    )
    bind_allow: list[str] = Field(
        default_factory=list,
        description=(
            "Sources tables may be bound to, comma-separated: directories (/srv/warehouse) and database "
            "URLs without password (postgresql://db:5432/bank); empty = nothing may be bound"
        ),
    )

    @field_validator("bind_allow", mode="before")
    @classmethod
    def _split_allow(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @field_validator("bind_allow")
    @classmethod
    def _check_allow(cls, value: list[str]) -> list[str]:
        for entry in value:
            if not entry.startswith("/") and "://" not in entry:
                raise ValueError(
                    f"bind_allow entry {entry!r} is neither an absolute directory nor a database URL"
                )
            if "://" in entry and urlsplit(entry).password is not None:
                raise ValueError("bind_allow entries carry no passwords")
        return value

    @model_validator(mode="before")
    @classmethod
    def _derive_node_id(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("node_id"):
            party = data.get("party_id", cls.model_fields["party_id"].default)
            data = {**data, "node_id": default_node_id(socket.gethostname(), party)}
        return data

    @property
    def disclosure_limits(self) -> DisclosureLimits:
        return DisclosureLimits(min_rows=self.min_aggregation_rows)

    @field_validator("node_id")
    @classmethod
    def _check_node_id(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_\-]{1,64}", value):
            raise ValueError("node id must be 1-64 characters of [A-Za-z0-9_-]")
        return value
