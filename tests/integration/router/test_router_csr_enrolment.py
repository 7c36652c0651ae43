"""Routers whose certificates were enrolled by CSR: the CA signed requests and never saw a key.

Each party keeps its own certificate directory (its key, the certificate the CA returned and the
CA's ``ca.crt``); the routers run from those directories and talk mutual TLS as usual.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from router_itest_helpers import SESSION, A, B, Party, fed_envelope, mesh, raw_link, signed_split, wait_for

from rollsite_router.routes import RouteTable
from rollsite_router.tls import TlsMaterial, load_tls
from silobridge import pki, topics
from silobridge.errors import PermissionDenied
from silobridge.federation.v1 import envelope_pb2 as env_pb

MIB = 1024 * 1024


def _enrol(ca_dir: Path, party_dir: Path, party: int) -> Path:
    """What a party and the CA operator do: ``pki csr`` there, ``pki sign`` here, files sent back."""
    request = pki.make_csr(party_dir, party)
    cert = pki.sign_csr(ca_dir, request.csr.read_bytes(), party_id=party)
    pki.party_files(party_dir, party).cert.write_bytes(cert)
    shutil.copy(pki.ca_files(ca_dir).cert, party_dir / "ca.crt")
    return party_dir


def _tls(party_dir: Path, party: int) -> TlsMaterial:
    files = pki.party_files(party_dir, party)
    return load_tls(party_dir / "ca.crt", files.cert, files.key, party_id=party)


@pytest.fixture
def ca_dir(tmp_path: Path) -> Path:
    d = tmp_path / "federation-ca"
    pki.create_ca(d)
    return d


async def test_csr_enrolled_routers_talk_mutual_tls(make_router, ca_dir: Path, tmp_path: Path) -> None:
    a_dir = _enrol(ca_dir, tmp_path / "bank-a", A)
    b_dir = _enrol(ca_dir, tmp_path / "bank-b", B)
    assert sorted(p.name for p in ca_dir.iterdir()) == ["ca.crt", "ca.key", "issued.jsonl"]
    for party, party_dir in ((A, a_dir), (B, b_dir)):
        key = pki.party_files(party_dir, party).key.read_bytes()
        assert all(key not in p.read_bytes() for p in ca_dir.iterdir())
        assert _tls(party_dir, party).key == key  # the router's own loader accepts the pair

    a = await make_router(A, cert_dir=a_dir)
    b = await make_router(B, cert_dir=b_dir)
    mesh(a, b)
    await b.listen(topics.fed_pattern(SESSION), topics.fed_group(SESSION))
    await a.send(fed_envelope(A, B, b"over a CSR certificate"))

    msg = await asyncio.wait_for(b.received.get(), 5)
    assert msg.topic == f"fed.{SESSION}.w.0"
    assert b.metric("silobridge_router_chunks_total", peer=str(A), direction="in") == 1


async def _payload(to: Party) -> bytes:
    msg = await asyncio.wait_for(to.received.get(), 5)
    return env_pb.Envelope.FromString(msg.body).payload


async def _send(to: Party, tls: TlsMaterial, payload: bytes) -> None:
    link = raw_link(to, tls)
    try:
        await link.send(signed_split(fed_envelope(A, B, payload), MIB, tls.key), ack_timeout_s=5)
    finally:
        await link.close()


async def test_rotated_certificate_works_and_the_old_one_until_it_is_revoked(
    make_router, ca_dir: Path, tmp_path: Path
) -> None:
    b_dir = _enrol(ca_dir, tmp_path / "bank-b", B)
    old = _tls(_enrol(ca_dir, tmp_path / "bank-a", A), A)
    new = _tls(_enrol(ca_dir, tmp_path / "bank-a.next", A), A)  # rotation: a new key and request
    old_serial, new_serial = (pki.peer_certificate(t.cert).serial for t in (old, new))
    assert old_serial != new_serial

    b = await make_router(B, cert_dir=b_dir, crl_reload_interval_s=0.05)
    b.service.set_route_table(RouteTable.build(B, {A: ("127.0.0.1", 1)}))
    await b.listen(topics.fed_pattern(SESSION), topics.fed_group(SESSION))
    for tls, payload in ((old, b"old"), (new, b"new")):
        await _send(b, tls, payload)
        assert await _payload(b) == payload

    # The CA revokes the old certificate and hands out its CRL; B's router is not restarted.
    shutil.copy(pki.revoke(ca_dir, serial=old_serial), b_dir / pki.CRL_FILE)
    await wait_for(lambda: b.metric("silobridge_router_revoked_certificates") == 1)
    with pytest.raises(PermissionDenied, match="your certificate is revoked"):
        await _send(b, old, b"old again")
    await _send(b, new, b"new again")
    assert await _payload(b) == b"new again"
    assert b.received.empty()
