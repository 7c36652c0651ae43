"""Attacks on the router's door by a peer with a valid certificate, or by whoever replays its traffic.

Each test is an attack that the router let through before envelopes were signed, replays were
recorded on disk, revocation lists were read and sessions were admitted per job: a replay (same
and new message id, also after a restart), a forged source, a tampered payload, a stale envelope,
a revoked certificate, and a session of a job this party never accepted.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from pathlib import Path

import pytest
from router_itest_helpers import (
    SESSION,
    SESSION_JOB,
    A,
    B,
    C,
    Party,
    fed_envelope,
    raw_link,
    signed_split,
    wait_for,
)

from rollsite_router.routes import RouteTable
from rollsite_router.signing import BadSignature, Signer, verify_record
from rollsite_router.tls import TlsMaterial, load_tls
from silobridge import pki, topics
from silobridge.errors import IntegrityError, PermissionDenied, RetryableError
from silobridge.federation.v1 import envelope_pb2 as env_pb
from silobridge.router.v1 import router_pb2

MIB = 1024 * 1024
WINDOW_S = 300.0


def _tls(pki_dir: Path, party: int) -> TlsMaterial:
    ca, files = pki.ca_files(pki_dir), pki.party_files(pki_dir, party)
    return load_tls(ca.cert, files.cert, files.key, party_id=party)


async def _receiver(make_router, **overrides) -> Party:
    """Party B's router, accepting A and C, with a consumer of the test session's values."""
    b = await make_router(B, **overrides)
    b.service.set_route_table(RouteTable.build(B, {A: ("127.0.0.1", 1), C: ("127.0.0.1", 1)}))
    await b.listen(topics.fed_pattern(SESSION), topics.fed_group(SESSION))
    return b


def _rejected(p: Party, reason: str, peer: int = A) -> float:
    return p.metric("silobridge_router_rejected_total", peer=str(peer), reason=reason)


async def _nothing_published(p: Party) -> None:
    await asyncio.sleep(0.2)  # whatever got past the checks would be on the bus by now
    assert p.received.empty()


async def test_replay_is_never_published_twice_also_after_a_router_restart(make_router, pki_dir):
    b = await _receiver(make_router)
    tls_a = _tls(pki_dir, A)
    captured = signed_split(fed_envelope(A, B, b"transfer 100 to Mallory"), MIB, tls_a.key)
    link = raw_link(b, tls_a)
    try:
        await link.send(captured, ack_timeout_s=5)
        first = await asyncio.wait_for(b.received.get(), 5)
        assert env_pb.Envelope.FromString(first.body).payload == b"transfer 100 to Mallory"

        await link.send(captured, ack_timeout_s=5)  # the same message id: acked, not published
        assert (
            b.metric("silobridge_router_messages_total", peer=str(A), direction="in", outcome="duplicate")
            == 1
        )
        await _nothing_published(b)

        renamed = env_pb.Envelope()
        renamed.CopyFrom(captured[0])
        renamed.message_id = "fresh-id-1"  # a new message id on the recorded envelope
        with pytest.raises(PermissionDenied, match="invalid envelope signature"):
            await link.send([renamed], ack_timeout_s=5)
        assert _rejected(b, "bad_signature") == 1
        await _nothing_published(b)
    finally:
        await link.close()

    await b.service.stop()  # the record is on disk in B's data dir
    b2 = await _receiver(make_router)
    link = raw_link(b2, tls_a)
    try:
        await link.send(captured, ack_timeout_s=5)
        assert (
            b2.metric("silobridge_router_messages_total", peer=str(A), direction="in", outcome="duplicate")
            == 1
        )
        with pytest.raises(PermissionDenied, match="invalid envelope signature"):
            await link.send([renamed], ack_timeout_s=5)
        await _nothing_published(b2)
    finally:
        await link.close()


async def test_forged_source_and_unsigned_envelopes_are_refused(make_router, pki_dir):
    b = await _receiver(make_router)
    tls_a, tls_c = _tls(pki_dir, A), _tls(pki_dir, C)
    link = raw_link(b, tls_a)
    try:
        # C's genuine signed envelope, relayed over A's stream: the source is not the certificate.
        from_c = signed_split(fed_envelope(C, B, b"from C"), MIB, tls_c.key)
        with pytest.raises(PermissionDenied, match="source party does not match"):
            await link.send(from_c, ack_timeout_s=5)
        # Claiming A over A's stream, but signed with another party's key.
        as_a = signed_split(fed_envelope(A, B, b"A said so"), MIB, tls_c.key)
        with pytest.raises(PermissionDenied, match="invalid envelope signature"):
            await link.send(as_a, ack_timeout_s=5)
        # Not signed at all (every envelope of an older router).
        with pytest.raises(PermissionDenied, match="not signed"):
            await link.send([fed_envelope(A, B, b"unsigned")], ack_timeout_s=5)
    finally:
        await link.close()
    assert _rejected(b, "spoofed_source") == 1
    assert _rejected(b, "bad_signature") == 2
    await _nothing_published(b)


async def test_tampered_payload_is_refused(make_router, pki_dir):
    b = await _receiver(make_router)
    tls_a = _tls(pki_dir, A)
    link = raw_link(b, tls_a)
    try:
        (honest,) = signed_split(fed_envelope(A, B, b"gradient 0.25"), MIB, tls_a.key)
        swapped = env_pb.Envelope()
        swapped.CopyFrom(honest)
        swapped.payload = b"gradient 9.99"  # digest left as it was: the payload does not match it
        with pytest.raises(IntegrityError, match="digest"):
            await link.send([swapped], ack_timeout_s=5)
        redigested = env_pb.Envelope()
        redigested.CopyFrom(swapped)
        redigested.message_id = "tampered-2"
        redigested.payload_digest = hashlib.sha256(redigested.payload).digest()  # and a matching digest
        with pytest.raises(PermissionDenied, match="invalid envelope signature"):
            await link.send([redigested], ack_timeout_s=5)
    finally:
        await link.close()
    await _nothing_published(b)


@pytest.mark.parametrize("offset_s", [-(WINDOW_S + 10), WINDOW_S + 10], ids=["stale", "future"])
async def test_envelope_signed_outside_the_time_window_is_refused(make_router, pki_dir, offset_s):
    b = await _receiver(make_router, envelope_window_s=WINDOW_S)
    tls_a = _tls(pki_dir, A)
    chunks = [fed_envelope(A, B, b"yesterday's news")]
    Signer(tls_a.key).sign(chunks, time.time_ns() + int(offset_s * 1e9))  # a genuine signature
    link = raw_link(b, tls_a)
    try:
        with pytest.raises(PermissionDenied, match="outside the receiver's window of 300s"):
            await link.send(chunks, ack_timeout_s=5)
    finally:
        await link.close()
    assert _rejected(b, "time_window") == 1
    await _nothing_published(b)


async def test_revoked_certificate_is_refused_after_the_crl_is_reloaded_without_restart(
    make_router, pki_dir, caplog
):
    b = await _receiver(make_router, crl_reload_interval_s=0.05)
    tls_a = _tls(pki_dir, A)
    caplog.set_level(logging.WARNING, logger="silobridge.audit")
    link = raw_link(b, tls_a)
    try:
        await link.send(signed_split(fed_envelope(A, B, b"before"), MIB, tls_a.key), ack_timeout_s=5)
        await asyncio.wait_for(b.received.get(), 5)

        pki.revoke(pki_dir, party_id=A)  # the federation CA revokes A; B's router is not restarted
        await wait_for(lambda: b.metric("silobridge_router_revoked_certificates") == 1)
        with pytest.raises(PermissionDenied, match="your certificate is revoked"):
            await link.send(signed_split(fed_envelope(A, B, b"after"), MIB, tls_a.key), ack_timeout_s=5)
    finally:
        await link.close()
    assert _rejected(b, "revoked") == 1
    refusals = [r for r in caplog.records if getattr(r, "event", "") == "audit_refused"]
    assert [r.reason for r in refusals] == ["revoked"]  # type: ignore[attr-defined]
    serial = pki.peer_certificate(pki.party_files(pki_dir, A).cert.read_bytes()).serial
    assert f"serial {serial:x}" in refusals[0].getMessage()
    await _nothing_published(b)


async def test_crl_not_signed_by_the_ca_is_refused_at_start(make_router, pki_dir, tmp_path):
    other = tmp_path / "other-ca"
    pki.create_ca(other)
    pki.issue_crl(other)
    with pytest.raises(Exception, match="signature does not verify against the CA"):
        await make_router(B, crl_file=other / pki.CRL_FILE)


async def test_session_of_a_job_not_accepted_creates_no_bus_group(make_router, pki_dir):
    b = await make_router(B, admit=())  # flow has accepted nothing here
    b.service.set_route_table(RouteTable.build(B, {A: ("127.0.0.1", 1)}))
    tls_a = _tls(pki_dir, A)
    group = topics.fed_group(SESSION)
    link = raw_link(b, tls_a)
    try:
        for i in range(3):  # a peer spraying values for a job this party never accepted
            env = fed_envelope(A, B, b"x", tag=str(i))
            with pytest.raises(RetryableError, match="not running at this party"):
                await link.send(signed_split(env, MIB, tls_a.key), ack_timeout_s=5)
        assert _rejected(b, "unknown_session") == 3
        assert group not in b.bus._groups  # no durable group was made for it

        await b.admit(SESSION_JOB)  # flow accepted the job: its values are delivered
        await link.send(signed_split(fed_envelope(A, B, b"accepted"), MIB, tls_a.key), ack_timeout_s=5)
        assert group in b.bus._groups
        await b.listen(topics.fed_pattern(SESSION), group)
        assert (
            env_pb.Envelope.FromString((await asyncio.wait_for(b.received.get(), 5)).body).payload
            == b"accepted"
        )

        await b.admit(SESSION_JOB, router_pb2.JOB_ADMISSION_CLOSED)  # the job ended here
        with pytest.raises(PermissionDenied, match="has ended at this party"):
            await link.send(signed_split(fed_envelope(A, B, b"late"), MIB, tls_a.key), ack_timeout_s=5)
        assert _rejected(b, "finished_session") == 1
    finally:
        await link.close()
    await _nothing_published(b)


async def test_audit_record_lets_a_third_party_check_who_sent_what(make_router, pki_dir, caplog):
    a, b = await make_router(A), await _receiver(make_router)
    a.service.set_route_table(RouteTable.build(A, {B: ("127.0.0.1", b.service.port)}))
    caplog.set_level(logging.INFO, logger="silobridge.audit")
    payload = b"encrypted residuals"
    await a.send(fed_envelope(A, B, payload))
    await asyncio.wait_for(b.received.get(), 5)
    (rec,) = [r for r in caplog.records if getattr(r, "event", "") == "audit_in"]
    cert_a = pki.party_files(pki_dir, A).cert.read_bytes()
    assert rec.signer_cert_sha256 == pki.peer_certificate(cert_a).sha256  # type: ignore[attr-defined]
    fields = verify_record(cert_a, rec.signed_header, rec.signature)  # type: ignore[attr-defined]
    assert fields[0].decode() == rec.message_id  # type: ignore[attr-defined]
    assert hashlib.sha256(payload).digest() in fields
    forged = rec.signed_header.replace(hashlib.sha256(payload).hexdigest(), "00" * 32)  # type: ignore[attr-defined]
    with pytest.raises(BadSignature):
        verify_record(cert_a, forged, rec.signature)  # type: ignore[attr-defined]
    with pytest.raises(BadSignature):  # and it names the sender: C's certificate does not verify it
        verify_record(pki.party_files(pki_dir, C).cert.read_bytes(), rec.signed_header, rec.signature)  # type: ignore[attr-defined]


async def test_nothing_is_sent_to_a_peer_whose_certificate_is_revoked(make_router, pki_dir, caplog):
    a = await make_router(A, crl_reload_interval_s=0.05)
    b = await _receiver(make_router)
    a.service.set_route_table(RouteTable.build(A, {B: ("127.0.0.1", b.service.port)}))
    await a.send(fed_envelope(A, B, b"before"))
    await asyncio.wait_for(b.received.get(), 5)  # a stream to B is open

    pki.revoke(pki_dir, party_id=B)  # B keeps running with its revoked certificate
    await wait_for(lambda: a.metric("silobridge_router_revoked_certificates") == 1)
    caplog.set_level(logging.WARNING)
    await a.send(fed_envelope(A, B, b"after"))
    async with asyncio.timeout(10):
        while not (dead := await a.bus.dead_letters("router-outbound")):
            await asyncio.sleep(0.02)
    assert env_pb.Envelope.FromString(dead[0].body).payload == b"after"
    assert any("which the federation CA revoked" in r.getMessage() for r in caplog.records)
    await _nothing_published(b)
