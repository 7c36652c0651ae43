"""The serving service's own Prometheus metrics, on the service's injected registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class ServingMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "silobridge_serving_requests_total",
            "Score requests at this endpoint by outcome (ok or the error code)",
            ["outcome"],
            registry=registry,
        )
        self.request_seconds = Histogram(
            "silobridge_serving_request_seconds",
            "Time to answer one score request, hosts included",
            registry=registry,
            buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1, 5),
        )
        self.batch_ids = Histogram(
            "silobridge_serving_batch_ids",
            "Ids per request sent to a host (concurrent score requests batched)",
            registry=registry,
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
        )
        self.partials = Counter(
            "silobridge_serving_partial_requests_total",
            "Partial-score requests from guests answered here, by outcome",
            ["peer", "outcome"],
            registry=registry,
        )
        self.versions = Gauge(
            "silobridge_serving_models", "Deployed model versions at this party", registry=registry
        )
