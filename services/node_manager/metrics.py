"""The node-manager's own Prometheus metrics, on the service's injected registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class NodeMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.tasks = Counter(
            "silobridge_node_tasks_total", "Tasks that reached a final state", ["state"], registry=registry
        )
        self.task_seconds = Histogram(
            "silobridge_node_task_seconds",
            "Wall time of a task from RUNNING to its final state",
            ["state"],
            registry=registry,
            buckets=(0.1, 0.5, 2, 10, 60, 300, 1800, 7200, 86400),
        )
        self.running = Gauge("silobridge_node_running_tasks", "Tasks running now", registry=registry)
        self.tables = Counter(
            "silobridge_node_table_ops_total",
            "Table store/delete commands by outcome",
            ["op", "outcome"],
            registry=registry,
        )
