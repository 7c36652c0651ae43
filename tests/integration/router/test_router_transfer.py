"""Routers of two or three parties in one process, talking gRPC + mutual TLS on 127.0.0.1."""

from __future__ import annotations

import asyncio
import hashlib
import logging

import pytest
from router_itest_helpers import SESSION, A, B, C, fed_envelope, mesh, wait_for

from rollsite_router.grpc_gateway import PeerLink
from rollsite_router.routes import RouteTable
from silobridge import topics
from silobridge.errors import PermissionDenied
from silobridge.federation.bus_transport import build_envelope
from silobridge.federation.v1 import envelope_pb2 as env_pb


def _parse(body: bytes) -> env_pb.Envelope:
    env = env_pb.Envelope()
    env.ParseFromString(body)
    return env


async def test_federation_value_arrives_intact_at_the_derived_topic(make_router, caplog):
    a, b = await make_router(A), await make_router(B)
    mesh(a, b)
    caplog.set_level(logging.INFO, logger="silobridge.audit")
    payload = b"gradient-bytes" * 1000
    sent = fed_envelope(A, B, payload, name="grad", tag="3")
    await a.send(sent)

    await wait_for(
        lambda: a.metric("silobridge_router_messages_total", peer=str(B), direction="out", outcome="ok") == 1
    )
    # The receiving task subscribes only now: the router declared the session's group first.
    await b.listen(topics.fed_pattern(SESSION), topics.fed_group(SESSION))
    msg = await asyncio.wait_for(b.received.get(), 5)

    assert msg.topic == f"fed.{SESSION}.grad.3"
    got = _parse(msg.body)
    assert got.payload == payload
    assert got.payload_digest == hashlib.sha256(payload).digest()
    assert (got.src.party_id, got.dst.party_id, got.message_id) == (A, B, sent.message_id)
    assert got.chunk_count == 1
    assert b.metric("silobridge_router_bytes_total", peer=str(A), direction="in") == len(payload)

    audit = [r for r in caplog.records if r.name == "silobridge.audit"]
    assert {r.direction for r in audit} == {"in", "out"}
    digest_hex = hashlib.sha256(payload).hexdigest()
    for record in audit:
        text = record.getMessage()
        assert digest_hex in text and f"size={len(payload)}" in text and "name=grad tag=3" in text
        assert "gradient-bytes" not in text


async def test_control_message_goes_to_flow_control(make_router):
    a, b = await make_router(A), await make_router(B)
    mesh(a, b)
    await b.listen(topics.FLOW_CONTROL, "flow-control")
    env = build_envelope(
        src_party=A,
        src_role="guest",
        dst_party=B,
        dst_role="host",
        channel=env_pb.CHANNEL_CONTROL,
        payload=b"propose",
    )
    await a.send(env)
    msg = await asyncio.wait_for(b.received.get(), 5)
    assert msg.topic == topics.FLOW_CONTROL
    assert _parse(msg.body).payload == b"propose"


async def test_five_megabytes_travel_as_several_chunks(make_router):
    a, b = await make_router(A), await make_router(B)
    mesh(a, b)
    await b.listen(topics.fed_pattern(SESSION), topics.fed_group(SESSION))
    payload = bytes(range(256)) * (5 * 1024 * 1024 // 256) + b"tail"
    await a.send(fed_envelope(A, B, payload))

    msg = await asyncio.wait_for(b.received.get(), 20)
    assert _parse(msg.body).payload == payload
    # 1 MiB chunks: 5 MiB + 4 bytes need 6 gRPC messages each way.
    await wait_for(lambda: a.metric("silobridge_router_chunks_total", peer=str(B), direction="out") == 6)
    assert b.metric("silobridge_router_chunks_total", peer=str(A), direction="in") == 6
    assert b.metric("silobridge_router_reassembly_inflight_bytes") == 0


async def test_peer_with_party_c_certificate_claiming_party_a_is_refused(make_router, pki_dir, caplog):
    a, b, c = await make_router(A), await make_router(B), await make_router(C)
    mesh(a, b, c)  # C is a legitimate peer of B: only the lie about the source is wrong
    await b.listen("#", "everything")
    caplog.set_level(logging.WARNING, logger="rollsite_router.service")
    link = PeerLink(
        peer_party=B,
        target=f"127.0.0.1:{b.service.port}",
        server_name=f"party-{B}",
        tls=c.service.tls,
        max_message_bytes=2 * 1024 * 1024,
        connect_timeout_s=2,
    )
    try:
        with pytest.raises(PermissionDenied, match="source party does not match"):
            await link.send([fed_envelope(A, B, b"forged")], ack_timeout_s=5)
    finally:
        await link.close()

    assert b.metric("silobridge_router_rejected_total", peer=str(C), reason="spoofed_source") == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(f"peer {C}" in w and f"claiming party {A}" in w for w in warnings), warnings
    await asyncio.sleep(0.2)
    assert b.received.empty()


async def test_party_outside_the_acl_is_refused(make_router):
    a, b = await make_router(A), await make_router(B)
    a.service.set_route_table(RouteTable.build(A, {B: ("127.0.0.1", b.service.port)}))
    b.service.set_route_table(RouteTable.build(B, {A: ("127.0.0.1", a.service.port)}, allow=[]))
    await a.send(fed_envelope(A, B, b"x"))
    await wait_for(lambda: b.metric("silobridge_router_rejected_total", peer=str(A), reason="acl") == 1)
    # A dead-letters once it has read B's refusal, a moment after B counted it (reading takes them)
    async with asyncio.timeout(10):
        while not (dead := await a.bus.dead_letters("router-outbound")):
            await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)  # a retried send would be refused again and dead-lettered again
    dead += await a.bus.dead_letters("router-outbound")
    assert len(dead) == 1  # a refusal is permanent: dead-lettered at the sender, not retried


async def test_envelope_for_another_party_is_refused(make_router):
    a, b, c = await make_router(A), await make_router(B), await make_router(C)
    mesh(a, b, c)
    link = PeerLink(
        peer_party=B,
        target=f"127.0.0.1:{b.service.port}",
        server_name=f"party-{B}",
        tls=a.service.tls,
        max_message_bytes=2 * 1024 * 1024,
        connect_timeout_s=2,
    )
    try:
        with pytest.raises(PermissionDenied, match=f"not party {C}"):
            await link.send([fed_envelope(A, C, b"misrouted")], ack_timeout_s=5)
    finally:
        await link.close()
    assert b.metric("silobridge_router_rejected_total", peer=str(A), reason="wrong_destination") == 1


async def test_unknown_destination_is_dead_lettered_and_router_keeps_working(make_router):
    a, b = await make_router(A), await make_router(B)
    mesh(a, b)
    await b.listen(topics.fed_pattern(SESSION), topics.fed_group(SESSION))
    await a.send(fed_envelope(A, 424242, b"nowhere"))
    await a.send(fed_envelope(A, B, b"somewhere"))

    msg = await asyncio.wait_for(b.received.get(), 5)
    assert _parse(msg.body).payload == b"somewhere"
    dead = await a.bus.dead_letters("router-outbound")
    assert [_parse(m.body).dst.party_id for m in dead] == [424242]
    assert (
        a.metric("silobridge_router_messages_total", peer="424242", direction="out", outcome="invalid") == 1
    )


async def test_message_is_delivered_once_the_peer_comes_up(make_router):
    first_b = await make_router(B)
    port = first_b.service.port
    await first_b.service.stop()  # B is down; its port is known

    a = await make_router(A, send_retry_s=10.0, connect_timeout_s=0.3)
    a.service.set_route_table(RouteTable.build(A, {B: ("127.0.0.1", port)}))
    await a.send(fed_envelope(A, B, b"patience"))
    await asyncio.sleep(0.8)  # A is retrying with backoff
    assert a.metric("silobridge_router_messages_total", peer=str(B), direction="out", outcome="ok") == 0

    b = await make_router(B, listen_port=port)
    b.service.set_route_table(RouteTable.build(B, {A: ("127.0.0.1", a.service.port)}))
    await b.listen(topics.fed_pattern(SESSION), topics.fed_group(SESSION))
    msg = await asyncio.wait_for(b.received.get(), 15)
    assert _parse(msg.body).payload == b"patience"


async def test_resent_message_is_published_once(make_router):
    a, b = await make_router(A), await make_router(B)
    mesh(a, b)
    await b.listen(topics.fed_pattern(SESSION), topics.fed_group(SESSION))
    env = fed_envelope(A, B, b"once")
    await a.send(env)
    await a.send(env)  # e.g. redelivered by the bus after a crash before the ack
    await wait_for(
        lambda: a.metric("silobridge_router_messages_total", peer=str(B), direction="out", outcome="ok") == 2
    )
    await asyncio.wait_for(b.received.get(), 5)
    await asyncio.sleep(0.2)
    assert b.received.empty()
    assert b.metric("silobridge_router_messages_total", peer=str(A), direction="in", outcome="duplicate") == 1


async def test_client_pins_the_peer_identity(make_router):
    """A route to B's address whose router presents C's certificate is not trusted."""
    a, c = await make_router(A, send_retry_s=0.0), await make_router(C)
    a.service.set_route_table(RouteTable.build(A, {B: ("127.0.0.1", c.service.port)}))
    await a.send(fed_envelope(A, B, b"secret"))
    await wait_for(
        lambda: (
            a.metric("silobridge_router_messages_total", peer=str(B), direction="out", outcome="retry") >= 1
        )
    )
    assert c.metric("silobridge_router_chunks_total", peer=str(A), direction="in") == 0


async def test_new_route_table_moves_traffic_to_the_new_endpoint(make_router):
    a, old_b = await make_router(A), await make_router(B)
    mesh(a, old_b)
    await old_b.listen(topics.fed_pattern(SESSION), topics.fed_group(SESSION))
    await a.send(fed_envelope(A, B, b"to the old address"))
    assert _parse((await asyncio.wait_for(old_b.received.get(), 5)).body).payload == b"to the old address"

    new_b = await make_router(B)  # B moved to another port
    mesh(a, new_b)
    await new_b.listen(topics.fed_pattern(SESSION), topics.fed_group(SESSION))
    await a.send(fed_envelope(A, B, b"to the new address"))
    assert _parse((await asyncio.wait_for(new_b.received.get(), 5)).body).payload == b"to the new address"
    assert old_b.received.empty()
