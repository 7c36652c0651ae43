"""Helpers shared by the cluster-manager unit tests (a fake clock, an event log, calls)."""

from __future__ import annotations

import asyncio

from cluster_manager.service import ClusterManagerService
from silobridge.bus.base import Message
from silobridge.cluster.v1 import cluster_pb2 as pb


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Events:
    """Collects ClusterEvents published on cluster.events."""

    def __init__(self) -> None:
        self.items: list[pb.ClusterEvent] = []

    async def on_message(self, msg: Message) -> None:
        ev = pb.ClusterEvent()
        ev.ParseFromString(msg.body)
        self.items.append(ev)

    def of(self, kind: str) -> list[pb.ClusterEvent]:
        return [e for e in self.items if e.WhichOneof("event") == kind]


async def call(cm: ClusterManagerService, req: pb.ClusterRequest) -> pb.ClusterReply:
    reply = pb.ClusterReply()
    reply.ParseFromString(await cm.handle(req.SerializeToString()))
    return reply


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)
