"""Outbound messages with an ``expires-at`` header (flow's heartbeats): tried until the expiry,
then dropped, never requeued or dead-lettered, so that a dead peer does not tie up the router."""

from __future__ import annotations

import asyncio
import time

from router_itest_helpers import A, B, wait_for

from rollsite_router.routes import RouteTable
from silobridge import topics
from silobridge.federation.bus_transport import build_envelope
from silobridge.federation.v1 import envelope_pb2 as env_pb


def control(payload: bytes) -> env_pb.Envelope:
    return build_envelope(
        src_party=A, src_role="", dst_party=B, dst_role="", channel=env_pb.CHANNEL_CONTROL, payload=payload
    )


async def test_an_expiring_message_to_a_dead_peer_is_dropped_at_its_expiry(make_router):
    first_b = await make_router(B)
    port = first_b.service.port
    await first_b.service.stop()  # B is down
    a = await make_router(A, send_retry_s=30.0, connect_timeout_s=0.2, outbound_max_deliveries=2)
    a.service.set_route_table(RouteTable.build(A, {B: ("127.0.0.1", port)}))

    started = time.monotonic()
    env = control(b"heartbeat")
    await a.bus.publish(
        topics.ROUTER_OUTBOUND,
        env.SerializeToString(),
        message_id=env.message_id,
        headers={topics.EXPIRES_AT_HEADER: f"{time.time() + 0.5:.3f}"},
    )
    expired = {"peer": str(B), "direction": "out", "outcome": "expired"}
    await wait_for(lambda: a.metric("silobridge_router_messages_total", **expired) == 1)
    # given up near its expiry, not after send_retry_s (30 s), and gone for good
    assert time.monotonic() - started < 10
    await asyncio.sleep(0.3)
    assert await a.bus.dead_letters("router-outbound") == []
    assert a.metric("silobridge_router_messages_total", **expired) == 1


async def test_an_already_expired_message_is_not_sent_and_others_still_are(make_router):
    a, b = await make_router(A), await make_router(B)
    a.service.set_route_table(RouteTable.build(A, {B: ("127.0.0.1", b.service.port)}))
    b.service.set_route_table(RouteTable.build(B, {A: ("127.0.0.1", a.service.port)}))
    await b.listen(topics.FLOW_CONTROL, "test-flow-control")
    late, fresh = control(b"late"), control(b"fresh")
    await a.bus.publish(
        topics.ROUTER_OUTBOUND,
        late.SerializeToString(),
        message_id=late.message_id,
        headers={topics.EXPIRES_AT_HEADER: f"{time.time() - 1:.3f}"},
    )
    await a.bus.publish(topics.ROUTER_OUTBOUND, fresh.SerializeToString(), message_id=fresh.message_id)
    msg = await asyncio.wait_for(b.received.get(), 10)
    got = env_pb.Envelope()
    got.ParseFromString(msg.body)
    assert got.payload == b"fresh"
    assert "expires-at" not in msg.headers  # the header is local; it never crossed
    await asyncio.sleep(0.3)
    assert b.received.empty()
    assert a.metric("silobridge_router_messages_total", peer=str(B), direction="out", outcome="expired") == 1
