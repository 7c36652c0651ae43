"""flow's own Prometheus metrics, on the service's injected registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class FlowMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.jobs = Counter(
            "silobridge_flow_jobs_total", "Jobs entering a state", ["state"], registry=registry
        )
        self.tasks = Counter(
            "silobridge_flow_tasks_total", "This party's tasks entering a state", ["state"], registry=registry
        )
        self.running_jobs = Gauge(
            "silobridge_flow_running_jobs", "Jobs RUNNING at this party", registry=registry
        )
        self.heartbeats = Counter(
            "silobridge_flow_heartbeats_total",
            "Peer liveness heartbeats published (out) and received (in)",
            ["direction"],
            registry=registry,
        )
        self.peer_silence = Gauge(
            "silobridge_flow_peer_silence_seconds",
            "Longest time a peer sharing a running job has sent no heartbeat for it",
            ["peer"],
            registry=registry,
        )
        self.peer_unreachable = Counter(
            "silobridge_flow_peer_unreachable_total",
            "Jobs failed here because a peer sent no heartbeat within the grace period",
            ["peer"],
            registry=registry,
        )
        self.api_seconds = Histogram(
            "silobridge_flow_api_request_seconds",
            "REST API latency",
            ["method", "route", "status"],
            registry=registry,
            buckets=(0.005, 0.02, 0.1, 0.5, 2, 10),
        )
