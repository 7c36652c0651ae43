"""The revocation list in force: only a CA-signed CRL replaces it; a broken or missing file never lifts a revocation."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rollsite_router.revocation import RevocationList
from silobridge import pki
from silobridge.config import SettingsError

A, B = 9999, 10000


def _serial(d: Path, party: int) -> int:
    return pki.peer_certificate(pki.party_files(d, party).cert.read_bytes()).serial


def _touch_later(path: Path) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


@pytest.fixture
def ca(tmp_path: Path) -> Path:
    d = tmp_path / "pki"
    pki.ensure_pki(d, [A, B])
    return d


def test_a_revocation_is_applied_on_reload_and_survives_a_broken_or_deleted_file(ca: Path) -> None:
    crl = ca / pki.CRL_FILE
    revocations = RevocationList(crl, pki.ca_files(ca).cert.read_bytes())
    assert len(revocations) == 0  # no file yet: nothing revoked

    pki.revoke(ca, party_id=A)
    assert revocations.reload()
    assert revocations.is_revoked(_serial(ca, A)) and not revocations.is_revoked(_serial(ca, B))

    crl.write_bytes(b"-----BEGIN X509 CRL-----\ngarbage\n-----END X509 CRL-----\n")
    _touch_later(crl)
    assert not revocations.reload()
    assert revocations.is_revoked(_serial(ca, A))  # the broken file did not lift it

    crl.unlink()
    assert not revocations.reload()
    assert revocations.is_revoked(_serial(ca, A))


def test_a_crl_of_another_ca_is_refused_at_start_and_ignored_later(ca: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    pki.ensure_pki(other, [A])
    pki.issue_crl(other)
    with pytest.raises(SettingsError, match="signature does not verify"):
        RevocationList(other / pki.CRL_FILE, pki.ca_files(ca).cert.read_bytes())

    pki.revoke(ca, party_id=B)
    revocations = RevocationList(ca / pki.CRL_FILE, pki.ca_files(ca).cert.read_bytes())
    (ca / pki.CRL_FILE).write_bytes((other / pki.CRL_FILE).read_bytes())  # swapped for an empty foreign list
    _touch_later(ca / pki.CRL_FILE)
    revocations.reload()
    assert revocations.is_revoked(_serial(ca, B))


def test_revoke_refuses_a_certificate_of_another_ca(ca: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    pki.ensure_pki(other, [A])
    with pytest.raises(Exception, match="not issued by the CA"):
        pki.revoke(ca, cert_file=pki.party_files(other, A).cert)
    assert not (ca / pki.CRL_FILE).exists()
