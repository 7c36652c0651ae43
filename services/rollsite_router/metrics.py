"""The router's own metrics, on the service's injected registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class RouterMetrics:
    """Per-peer traffic, refusals and latency; ``peer`` is a party id (or ``unknown``)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.messages = Counter(
            "silobridge_router_messages_total",
            "Cross-party messages by peer, direction (in/out) and outcome (ok/duplicate/rejected/refused/retry/invalid)",
            ["peer", "direction", "outcome"],
            registry=registry,
        )
        self.bytes = Counter(
            "silobridge_router_bytes_total",
            "Payload bytes of delivered cross-party messages",
            ["peer", "direction"],
            registry=registry,
        )
        self.chunks = Counter(
            "silobridge_router_chunks_total",
            "gRPC messages (envelope chunks) written to or read from peers",
            ["peer", "direction"],
            registry=registry,
        )
        self.rejected = Counter(
            "silobridge_router_rejected_total",
            "Inbound envelopes refused (dropped), by reason: acl, spoofed_source, wrong_destination, revoked, "
            "bad_signature, time_window, unknown_session, finished_session, too_large, ...",
            ["peer", "reason"],
            registry=registry,
        )
        self.send_seconds = Histogram(
            "silobridge_router_send_seconds",
            "From taking a message off the bus to the peer's last ack, retries included",
            ["peer"],
            registry=registry,
            buckets=(0.005, 0.02, 0.1, 0.5, 2, 10, 60, 300),
        )
        self.revoked = Gauge(
            "silobridge_router_revoked_certificates",
            "Certificates on the revocation list in force",
            registry=registry,
        )
        self.reloads = Counter(
            "silobridge_router_reloads_total",
            "Reloads while running, by source (routes: the route table, tls: own certificate, key and "
            "CA bundle) and outcome (ok: read and in force; failed: refused, the previous one stays)",
            ["source", "outcome"],
            registry=registry,
        )
        self.routes = Gauge(
            "silobridge_router_routes",
            "Peer parties with a route of their own in the route table in force",
            registry=registry,
        )
        self.reassembly_bytes = Gauge(
            "silobridge_router_reassembly_inflight_bytes",
            "Bytes held in partially received messages",
            registry=registry,
        )
