"""Settings of the flow service (``SILOBRIDGE_<FIELD>``), and the party ids it knows."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Set
from pathlib import Path

import yaml
from pydantic import Field, field_validator, model_validator

from silobridge.config import CommonSettings, SettingsError

log = logging.getLogger(__name__)


class FlowSettings(CommonSettings):
    """What flow needs beyond the common settings."""

    http_port: int = Field(9380, ge=0, le=65535, description="REST API, board, /healthz, /metrics")
    db_url: str = Field(
        "",
        description="sqlite:///path, sqlite:///:memory: or postgresql://... (default: <data_dir>/flow.sqlite)",
    )
    db_table_prefix: str = Field(
        "flow_", pattern=r"^[a-z][a-z0-9_]{0,30}$", description="Prefix of flow's SQL tables"
    )
    route_table: Path | None = Field(
        None, description="Router's route-table YAML; its party ids are the known parties"
    )
    known_parties: list[int] = Field(default_factory=list, description="Extra known party ids (JSON list)")
    default_job_timeout_s: float = Field(3600.0, gt=0, description="Job timeout when the job YAML names none")
    max_job_timeout_s: float = Field(7 * 24 * 3600.0, gt=0, description="Largest timeout_s a job may ask for")
    accept_timeout_s: float = Field(
        60.0, gt=0, description="How long the initiator waits for every party's answer"
    )
    rpc_timeout_s: float = Field(10.0, gt=0, description="Timeout of cluster-manager / node-manager requests")
    rpc_retry_window_s: float = Field(
        60.0,
        ge=0,
        description="How long a cluster-manager request (session, table) is sent again while "
        "unanswered (a broker restart); 0 = once",
    )
    upload_timeout_s: float = Field(
        900.0, gt=0, description="Timeout of a StoreTable request (its last piece parses the whole CSV)"
    )
    max_job_yaml_bytes: int = Field(256 * 1024, gt=0, description="Largest job YAML accepted")
    max_upload_bytes: int = Field(
        4 * 1024**3, gt=0, description="Largest CSV upload accepted (streamed: flow holds one MiB of it)"
    )
    max_task_retries: int = Field(
        0, ge=0, le=10, description="Retries of a failed task at this party (attempt+1)"
    )
    retry_delay_s: float = Field(2.0, ge=0, description="Pause before retrying a task or a busy allocation")
    watchdog_interval_s: float = Field(1.0, gt=0, description="How often deadlines are checked")
    peer_heartbeat_interval_s: float = Field(
        5.0,
        gt=0,
        description="How often flow sends a heartbeat to each peer it shares a running job with",
    )
    peer_liveness_grace_s: float = Field(
        30.0,
        ge=0,
        description="A running job fails, naming the peer, when a peer of the job sends no heartbeat "
        "for this long while this party's own bus works; 0: never (heartbeats are still sent)",
    )
    task_cpus: int = Field(1, ge=1, description="CPUs asked for per task session")
    admin_token_file: Path | None = Field(
        None,
        description="File holding an admin API token (e.g. a mounted Secret); unset: flow writes a "
        "new one to <data_dir>/admin.token (mode 0600) when no admin token exists",
    )
    policy_file: Path | None = Field(
        None,
        description="This party's policy for peer proposals (YAML); unset: the policy in the "
        "database, managed with PUT /v1/policy (default: deny every peer)",
    )

    @field_validator("known_parties", mode="before")
    @classmethod
    def _split_parties(cls, value: object) -> object:
        """Accept ``10000,10001`` or ``[10000, 10001]`` from the environment."""
        if isinstance(value, str):
            return [p for p in value.strip("[] ").replace(",", " ").split() if p]
        return value

    @model_validator(mode="after")
    def _grace_covers_heartbeats(self) -> FlowSettings:
        if self.peer_liveness_grace_s and self.peer_liveness_grace_s < 2 * self.peer_heartbeat_interval_s:
            raise ValueError(
                "SILOBRIDGE_PEER_LIVENESS_GRACE_S must be 0 (off) or at least twice "
                "SILOBRIDGE_PEER_HEARTBEAT_INTERVAL_S, so one lost heartbeat does not fail a job"
            )
        return self

    def resolved_db_url(self) -> str:
        return self.db_url or f"sqlite:///{self.data_dir / 'flow.sqlite'}"

    def parties(self) -> set[int]:
        """This party, the route table's parties and ``known_parties``."""
        known = {self.party_id, *self.known_parties}
        if self.route_table is not None:
            known |= read_route_table_parties(self.route_table)
        return known

    def live_parties(self) -> KnownParties:
        """:meth:`parties` as a live set: the route table is read again whenever it changes."""
        return KnownParties({self.party_id, *self.known_parties}, self.route_table)


class KnownParties(Set[int]):
    """The party ids flow accepts in a job, following the router's route table as it changes.

    A peer added with ``silobridge peer add`` (or removed) is known at the next job without a
    restart: each use stats the file and reads it again only when it changed. A file that cannot
    be read at start is a settings error; later, the parties known before stay (logged), as the
    router keeps its table.
    """

    def __init__(self, fixed: Iterable[int], route_table: Path | None) -> None:
        self._fixed = frozenset(fixed)
        self._path = route_table
        self._stamp: tuple[int, int, int] | None = None
        self._current = self._fixed
        if route_table is not None:
            self._stamp = _stamp(route_table)
            self._current = self._fixed | read_route_table_parties(route_table)

    def _parties(self) -> frozenset[int]:
        if self._path is None:
            return self._current
        stamp = _stamp(self._path)
        if stamp != self._stamp:
            self._stamp = stamp  # a broken file is reported once, not at every job
            try:
                self._current = self._fixed | read_route_table_parties(self._path)
            except SettingsError as exc:
                log.error("%s; keeping the %d parties known before", exc, len(self._current))
        return self._current

    def __contains__(self, party: object) -> bool:
        return party in self._parties()

    def __iter__(self) -> Iterator[int]:
        return iter(self._parties())

    def __len__(self) -> int:
        return len(self._parties())


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def read_route_table_parties(path: Path) -> set[int]:
    """Party ids of a router route table: ``{self: 9999, routes: {10000: {host, port}}, default: ...}``."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SettingsError(f"SILOBRIDGE_ROUTE_TABLE: cannot read {path.name}: {exc}") from None
    if not isinstance(doc, dict):
        raise SettingsError(f"SILOBRIDGE_ROUTE_TABLE: {path.name} is not a mapping")
    out: set[int] = set()
    try:
        if doc.get("self") is not None:
            out.add(int(doc["self"]))
        out |= {int(p) for p in (doc.get("routes") or {})}
    except (TypeError, ValueError):
        raise SettingsError(f"SILOBRIDGE_ROUTE_TABLE: party ids in {path.name} must be integers") from None
    return out
