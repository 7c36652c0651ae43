"""TaskEvents of one task on ``flow.events``; progress and metrics are coalesced to <= 2 events/s.

The component calls the sinks from its worker thread; they hand the values to the event loop,
which batches them so that a component logging every iteration cannot flood the bus.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from silobridge import topics
from silobridge.bus.base import Bus
from silobridge.node.v1 import node_pb2 as pb

log = logging.getLogger(__name__)

MIN_INTERVAL_S = 0.5  # at most two RUNNING updates a second


class TaskReporter:
    def __init__(self, bus: Bus, loop: asyncio.AbstractEventLoop, base: pb.TaskEvent) -> None:
        self._bus, self._loop = bus, loop
        self._base = base
        self._pending_metrics: list[pb.MetricPoint] = []
        self._pending_progress: float | None = None
        self.progress = 0.0
        self._last_sent = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._inflight: set[asyncio.Task[None]] = set()
        self._muted = False  # read from the worker thread: a plain bool is enough

    def event(self, state: pb.TaskState, *, message: str = "", retryable: bool = False) -> pb.TaskEvent:
        """A TaskEvent of this task; ``retryable`` only means something on a FAILED one."""
        ev = pb.TaskEvent()
        ev.CopyFrom(self._base)
        ev.state = state
        ev.message = message
        ev.retryable = retryable and state == pb.TASK_STATE_FAILED
        ev.progress = self.progress
        ev.time_unix = time.time()
        return ev

    async def publish(self, ev: pb.TaskEvent) -> None:
        """Publish now (state changes); pending RUNNING updates go out first."""
        await self.flush()
        ev.time_unix = time.time()
        await self._bus.publish(topics.FLOW_EVENTS, ev.SerializeToString())

    # ----- sinks, called from the component's thread ---------------------------------------
    def metric_sink(self, name: str, value: float, step: int) -> None:
        if not self._muted:
            point = pb.MetricPoint(name=name, step=step, value=value)
            self._loop.call_soon_threadsafe(self._add, point, None)

    def progress_sink(self, fraction: float) -> None:
        if not self._muted:
            self._loop.call_soon_threadsafe(self._add, None, fraction)

    def mute(self) -> None:
        """After cancellation the abandoned component may keep running: ignore what it reports."""
        self._muted = True
        self._pending_metrics.clear()
        self._pending_progress = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # ----- loop side -----------------------------------------------------------------------
    def _add(self, point: pb.MetricPoint | None, fraction: float | None) -> None:
        if self._muted:
            return
        if point is not None:
            self._pending_metrics.append(point)
        if fraction is not None:
            self._pending_progress = fraction
        wait = self._last_sent + MIN_INTERVAL_S - time.monotonic()
        if wait <= 0:
            self._send_pending()
        elif self._timer is None:
            self._timer = self._loop.call_later(wait, self._send_pending)

    def _send_pending(self) -> None:
        self._timer = None
        if self._muted or (not self._pending_metrics and self._pending_progress is None):
            return
        if self._pending_progress is not None:
            self.progress = self._pending_progress
        ev = self.event(pb.TASK_STATE_RUNNING)
        ev.metrics.extend(self._pending_metrics)
        self._pending_metrics, self._pending_progress = [], None
        self._last_sent = time.monotonic()
        task = self._loop.create_task(self._publish_quietly(ev))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _publish_quietly(self, ev: pb.TaskEvent) -> None:
        try:
            await self._bus.publish(topics.FLOW_EVENTS, ev.SerializeToString())
        except Exception as exc:  # a lost progress update is not worth failing the task
            log.warning("could not publish a progress event: %s", exc)

    async def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._send_pending()
        if self._inflight:
            with contextlib.suppress(Exception):
                await asyncio.gather(*self._inflight)
