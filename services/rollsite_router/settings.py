"""Settings of the rollsite-router, read from ``SILOBRIDGE_*`` variables in ``__main__``."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from silobridge.config import CommonSettings
from silobridge.pki import CRL_FILE

MIB = 1024 * 1024


class RouterSettings(CommonSettings):
    """Where the router listens, which certificates it presents, where peers are, and its limits."""

    listen_host: str = Field("127.0.0.1", description="Bind address of the gRPC server")
    listen_port: int = Field(0, ge=0, le=65535, description="gRPC port; 0 picks a free port")
    cert_dir: Path | None = Field(
        None, description="Directory with ca.crt, party-<id>.crt, party-<id>.key (silobridge pki)"
    )
    ca_file: Path | None = Field(None, description="CA certificate (overrides cert_dir)")
    cert_file: Path | None = Field(None, description="This router's certificate (overrides cert_dir)")
    key_file: Path | None = Field(None, description="This router's private key (overrides cert_dir)")
    route_table: Path | None = Field(None, description="Route table YAML; none: no peers")
    reload_interval_s: float = Field(
        2.0,
        gt=0,
        description="How often the route table and the TLS files are checked for changes (SIGHUP: at once)",
    )
    chunk_bytes: int = Field(MIB, ge=1024, le=64 * MIB, description="Payload bytes per gRPC message")
    max_payload_bytes: int = Field(60 * MIB, ge=1, description="Largest whole payload sent or accepted")
    max_inflight_chunks_bytes: int = Field(
        512 * MIB,
        ge=1,
        description="Memory cap of all partially received messages together, headers included",
    )
    reassembly_timeout_s: float = Field(120.0, gt=0, description="Drop a partial message after this long")
    max_partial_messages_per_peer: int = Field(
        64, ge=1, description="Partially received messages one peer may have at once"
    )
    connect_timeout_s: float = Field(5.0, gt=0, description="TLS connect to a peer router")
    ack_timeout_s: float = Field(60.0, gt=0, description="Wait for the peer's acks of one message")
    send_retry_s: float = Field(30.0, ge=0, description="Keep retrying one message this long before requeue")
    retry_initial_backoff_s: float = Field(0.2, gt=0, description="First pause between send attempts")
    retry_max_backoff_s: float = Field(5.0, gt=0, description="Longest pause between send attempts")
    outbound_max_deliveries: int = Field(10, ge=1, description="Bus deliveries before dead-lettering")
    outbound_concurrency: int = Field(4, ge=1, le=256, description="Outbound messages sent concurrently")
    dedup_capacity: int = Field(100_000, ge=1, description="Inbound message ids also kept in memory")
    envelope_window_s: float = Field(
        300.0, gt=0, le=86400, description="Refuse envelopes signed longer ago (or further ahead) than this"
    )
    dedup_retention_s: float = Field(
        3600.0, gt=0, description="Keep inbound message ids on disk this long (>= 2 x envelope_window_s)"
    )
    crl_file: Path | None = Field(None, description="CA-signed revocation list (default: <cert_dir>/ca.crl)")
    crl_reload_interval_s: float = Field(
        5.0, gt=0, description="How often the revocation list file is polled"
    )

    @model_validator(mode="after")
    def _certificates_named(self) -> RouterSettings:
        explicit = (self.ca_file, self.cert_file, self.key_file)
        if self.cert_dir is None and not all(explicit):
            raise ValueError("set SILOBRIDGE_CERT_DIR, or all of SILOBRIDGE_CA_FILE/CERT_FILE/KEY_FILE")
        if self.retry_max_backoff_s < self.retry_initial_backoff_s:
            raise ValueError("retry_max_backoff_s must be >= retry_initial_backoff_s")
        if self.dedup_retention_s < 2 * self.envelope_window_s:
            raise ValueError("dedup_retention_s must be >= 2 x envelope_window_s (replays inside the window)")
        return self

    @property
    def ca_path(self) -> Path:
        return self.ca_file or self._in_dir("ca.crt")

    @property
    def cert_path(self) -> Path:
        return self.cert_file or self._in_dir(f"party-{self.party_id}.crt")

    @property
    def key_path(self) -> Path:
        return self.key_file or self._in_dir(f"party-{self.party_id}.key")

    @property
    def crl_path(self) -> Path | None:
        if self.crl_file is not None:
            return self.crl_file
        return self.cert_dir / CRL_FILE if self.cert_dir is not None else None

    @property
    def max_grpc_message_bytes(self) -> int:
        """One chunk plus room for the envelope's header fields."""
        return self.chunk_bytes + 64 * 1024

    def _in_dir(self, name: str) -> Path:
        assert self.cert_dir is not None  # guaranteed by the validator
        return self.cert_dir / name
