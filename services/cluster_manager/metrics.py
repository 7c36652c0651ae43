"""The cluster-manager's own Prometheus metrics, on the service's injected registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class ClusterMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "silobridge_cluster_requests_total",
            "cluster.rpc requests by kind and outcome",
            ["kind", "outcome"],
            registry=registry,
        )
        self.nodes = Gauge(
            "silobridge_cluster_nodes", "Registered node-managers by state", ["state"], registry=registry
        )
        self.sessions = Gauge("silobridge_cluster_sessions", "Open compute sessions", registry=registry)
        self.nodes_lost = Counter(
            "silobridge_cluster_nodes_lost_total",
            "Nodes marked LOST after missed heartbeats",
            registry=registry,
        )
        self.sessions_expired = Counter(
            "silobridge_cluster_sessions_expired_total",
            "Compute sessions killed at their deadline",
            registry=registry,
        )
