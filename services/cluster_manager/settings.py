"""Settings of the cluster-manager (``SILOBRIDGE_<FIELD>``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from silobridge.config import CommonSettings


class ClusterManagerSettings(CommonSettings):
    heartbeat_interval_s: float = Field(
        2.0, gt=0, description="Interval at which node-managers heartbeat (same variable as theirs)"
    )
    lost_after_missed: int = Field(3, ge=1, description="Missed heartbeat intervals before a node is LOST")
    bus_recovery_grace_s: float = Field(
        30.0,
        gt=0,
        description="After the party's broker was unreachable, how long nodes have to reconnect and "
        "heartbeat before they count as LOST",
    )
    check_interval_s: float = Field(
        0.5, gt=0, description="How often liveness and session deadlines are checked"
    )
    default_session_timeout_s: float = Field(
        3600.0, gt=0, description="Deadline of a compute session that asks for none"
    )
    max_session_timeout_s: float = Field(
        7 * 24 * 3600.0, gt=0, description="Longest deadline a session may ask for"
    )
    store: Literal["sqlite", "memory"] = Field(
        "sqlite", description="Where nodes, sessions and table metadata live"
    )
    db_file: str = Field("cluster-manager.sqlite3", description="SQLite file name under data_dir")
