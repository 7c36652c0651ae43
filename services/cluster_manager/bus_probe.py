"""Is the party's own broker carrying messages? Liveness is judged only while it is.

A node-manager's heartbeat crosses the broker. When the broker restarts, every node falls silent
at once and is not lost: the cluster-manager must not fail their running tasks for it. The probe
sends a message to itself through the broker every interval; while round trips fail, no node is
declared lost, and once they succeed again nodes get a grace period to reconnect and heartbeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable

from silobridge.bus.base import Bus, Message, Subscription
from silobridge.service import stop_background

log = logging.getLogger(__name__)

PROBE_TOPIC = "cluster.probe"


class BusProbe:
    def __init__(self, bus: Bus, clock: Callable[[], float], interval_s: float) -> None:
        self._bus, self._clock, self._interval_s = bus, clock, interval_s
        self._name = f"cluster-probe-{uuid.uuid4().hex[:12]}"
        self._waiting: dict[str, asyncio.Future[None]] = {}
        self._sub: Subscription | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self.failing = False
        self.ok_since = clock()  # the broker answered when start() subscribed

    async def start(self) -> None:
        self.ok_since = self._clock()
        self._sub = await self._bus.subscribe(PROBE_TOPIC, self._on_probe, group=self._name, durable=False)
        self._loop_task = asyncio.get_running_loop().create_task(self._run(), name="cluster-bus-probe")

    async def stop(self) -> None:
        await stop_background(self._loop_task)
        self._loop_task = None
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.cancel()
            self._sub = None

    async def _on_probe(self, msg: Message) -> None:
        fut = self._waiting.get(msg.body.decode(errors="replace"))
        if fut is not None and not fut.done():
            fut.set_result(None)

    async def round_trip(self) -> bool:
        """One message out and back through the broker within the interval; records the outcome."""
        nonce = uuid.uuid4().hex
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[nonce] = fut
        try:
            async with asyncio.timeout(self._interval_s):
                await self._bus.publish(PROBE_TOPIC, nonce.encode())
                await fut
            ok = True
        except Exception:  # timeout or BusUnavailable: the broker is not carrying messages
            ok = False
        finally:
            self._waiting.pop(nonce, None)
        if not ok and not self.failing:
            log.warning("the bus does not carry messages: node liveness is paused until it does")
        if ok and self.failing:
            self.ok_since = self._clock()
            log.warning("the bus carries messages again: nodes have a grace period to heartbeat")
        self.failing = not ok
        return ok

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            await self.round_trip()
