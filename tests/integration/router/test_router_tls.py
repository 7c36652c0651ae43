"""Mutual TLS at the door: no certificate, or one from another CA, never gets a message in."""

from __future__ import annotations

import asyncio

import grpc
from router_itest_helpers import SESSION, A, B, fed_envelope, signed_split

from rollsite_router.grpc_gateway import TRANSFER_PATH
from rollsite_router.routes import RouteTable
from silobridge import pki, topics
from silobridge.router.v1 import router_pb2


async def _transfer(port: int, creds: grpc.ChannelCredentials, key_of_a: bytes) -> grpc.StatusCode:
    """Send one envelope with raw gRPC; the status code the client sees."""
    channel = grpc.aio.secure_channel(
        f"127.0.0.1:{port}", creds, options=[("grpc.ssl_target_name_override", f"party-{B}")]
    )
    try:
        call = channel.stream_stream(
            TRANSFER_PATH,
            request_serializer=router_pb2.TransferRequest.SerializeToString,
            response_deserializer=router_pb2.TransferResponse.FromString,
        )(timeout=5)
        # Signed with A's key: only the certificate presented on the stream differs between tests.
        (chunk,) = signed_split(fed_envelope(A, B, b"knock knock"), 1024, key_of_a)
        await call.write(router_pb2.TransferRequest(envelope=chunk))
        await call.done_writing()
        acks = [r.ack async for r in call]
        assert [a.ok for a in acks] == [True]
        return grpc.StatusCode.OK
    except grpc.aio.AioRpcError as exc:
        return exc.code()
    finally:
        await channel.close()


def _key_a(pki_dir) -> bytes:
    return pki.party_files(pki_dir, A).key.read_bytes()


def _creds(ca: bytes, cert_files: pki.CertFiles | None = None) -> grpc.ChannelCredentials:
    if cert_files is None:
        return grpc.ssl_channel_credentials(root_certificates=ca)
    return grpc.ssl_channel_credentials(
        root_certificates=ca,
        private_key=cert_files.key.read_bytes(),
        certificate_chain=cert_files.cert.read_bytes(),
    )


async def test_client_with_our_certificate_gets_in(make_router, pki_dir):
    """The control case for the refusals below: same client code, valid party certificate."""
    b = await make_router(B)
    b.service.set_route_table(RouteTable.build(B, {A: ("127.0.0.1", 1)}))
    await b.listen(topics.fed_pattern(SESSION), topics.fed_group(SESSION))
    ca = pki.ca_files(pki_dir).cert.read_bytes()
    assert (
        await _transfer(b.service.port, _creds(ca, pki.party_files(pki_dir, A)), _key_a(pki_dir))
        == grpc.StatusCode.OK
    )
    msg = await asyncio.wait_for(b.received.get(), 5)
    assert msg.topic == f"fed.{SESSION}.w.0"


async def test_client_without_certificate_fails_the_handshake(make_router, pki_dir):
    b = await make_router(B)
    await b.listen("#", "everything")
    ca = pki.ca_files(pki_dir).cert.read_bytes()
    assert await _transfer(b.service.port, _creds(ca), _key_a(pki_dir)) == grpc.StatusCode.UNAVAILABLE
    assert b.metric("silobridge_router_chunks_total", peer=str(A), direction="in") == 0
    assert b.received.empty()


async def test_client_certificate_from_another_ca_fails_the_handshake(make_router, pki_dir, tmp_path):
    b = await make_router(B)
    await b.listen("#", "everything")
    rogue = tmp_path / "rogue"
    pki.create_ca(rogue)
    forged = pki.issue_party_cert(rogue, A)  # says "party 9999", signed by a CA B does not trust
    ca = pki.ca_files(pki_dir).cert.read_bytes()
    assert await _transfer(b.service.port, _creds(ca, forged), _key_a(pki_dir)) == grpc.StatusCode.UNAVAILABLE
    assert b.metric("silobridge_router_chunks_total", peer=str(A), direction="in") == 0
    assert b.received.empty()
