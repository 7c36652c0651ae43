"""Prometheus metrics on an injected registry, and a bus middleware that counts every message.

Names follow ``silobridge_<subsystem>_<what>_{total,seconds,bytes}``; labels stay few
(service, party, topic family, direction, outcome) so that cardinality stays bounded.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from silobridge.bus.base import DEFAULT_MAX_DELIVERIES, Bus, Handler, Message, Subscription


def topic_family(topic: str) -> str:
    """``fed.job.task.1.x.y`` -> ``fed``; ``node.n1.cmd`` -> ``node.cmd``: bounded label values."""
    words = topic.split(".")
    if words[0] in ("fed", "reply"):
        return words[0]
    if words[0] == "node" and len(words) == 3:
        return "node.cmd"
    return ".".join(words[:2])


class ServiceMetrics:
    """The metrics every service exports; one instance per service, on its own registry."""

    def __init__(self, service: str, party_id: int, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.service = service
        self.party = str(party_id)
        labels = ["service", "party", "topic", "direction"]
        self.messages = Counter(
            "silobridge_bus_messages_total", "Bus messages", [*labels, "outcome"], registry=self.registry
        )
        self.bytes = Counter(
            "silobridge_bus_message_bytes_total", "Bus payload bytes", labels, registry=self.registry
        )
        self.handler_seconds = Histogram(
            "silobridge_bus_handler_seconds",
            "Time a handler took per message",
            ["service", "party", "topic"],
            registry=self.registry,
            buckets=(0.001, 0.005, 0.02, 0.1, 0.5, 2, 10, 60),
        )
        self.errors = Counter(
            "silobridge_errors_total", "Errors by kind", ["service", "party", "kind"], registry=self.registry
        )
        self.up = Gauge(
            "silobridge_service_up",
            "1 while the service is ready",
            ["service", "party"],
            registry=self.registry,
        )

    def error(self, kind: str) -> None:
        self.errors.labels(self.service, self.party, kind).inc()


class _InstrumentedSubscription(Subscription):
    def __init__(self, inner: Subscription) -> None:
        self.inner = inner

    async def cancel(self) -> None:
        await self.inner.cancel()


class InstrumentedBus(Bus):
    """Middleware: wraps any bus, counts messages/bytes in and out and times handlers."""

    def __init__(self, inner: Bus, metrics: ServiceMetrics) -> None:
        self.inner = inner
        self.metrics = metrics
        self.url = inner.url

    async def start(self) -> None:
        await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()

    async def publish(
        self,
        topic: str,
        body: bytes,
        *,
        message_id: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> str:
        m, fam = self.metrics, topic_family(topic)
        try:
            mid = await self.inner.publish(topic, body, message_id=message_id, headers=headers)
        except Exception:
            m.messages.labels(m.service, m.party, fam, "out", "error").inc()
            raise
        m.messages.labels(m.service, m.party, fam, "out", "ok").inc()
        m.bytes.labels(m.service, m.party, fam, "out").inc(len(body))
        return mid

    async def declare_group(self, pattern: str, group: str, *, durable: bool = True) -> None:
        await self.inner.declare_group(pattern, group, durable=durable)

    async def subscribe(
        self,
        pattern: str,
        handler: Handler,
        *,
        group: str,
        durable: bool = True,
        max_deliveries: int = DEFAULT_MAX_DELIVERIES,
        prefetch: int = 16,
    ) -> Subscription:
        m = self.metrics

        async def measured(msg: Message) -> None:
            fam = topic_family(msg.topic)
            m.bytes.labels(m.service, m.party, fam, "in").inc(len(msg.body))
            start = time.perf_counter()
            try:
                await handler(msg)
            except Exception:
                m.messages.labels(m.service, m.party, fam, "in", "error").inc()
                m.error("handler")
                raise
            finally:
                m.handler_seconds.labels(m.service, m.party, fam).observe(time.perf_counter() - start)
            m.messages.labels(m.service, m.party, fam, "in", "ok").inc()

        inner = await self.inner.subscribe(
            pattern, measured, group=group, durable=durable, max_deliveries=max_deliveries, prefetch=prefetch
        )
        return _InstrumentedSubscription(inner)

    async def delete_group(self, group: str) -> None:
        await self.inner.delete_group(group)

    async def dead_letters(self, group: str, *, limit: int = 100) -> list[Message]:
        return await self.inner.dead_letters(group, limit=limit)
