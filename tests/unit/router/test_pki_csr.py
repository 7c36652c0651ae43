"""Enrolment by CSR: the party makes its key, the CA checks the request and signs it.

The CA directory never holds a party key; a request that names another party, asks for more than
the operator allows, or is not what it claims is refused, and a refusal writes nothing.
"""

from __future__ import annotations

import datetime
import ipaddress
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from silobridge import pki
from silobridge.errors import Conflict, InvalidInput, NotFound
from silobridge_cli.main import main as cli

A, B = 9999, 10000


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def _cert(pem: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem)


def _enrol(ca_dir: Path, party_dir: Path, party: int, hosts: tuple[str, ...] = pki.DEFAULT_HOSTS) -> bytes:
    files = pki.make_csr(party_dir, party, hosts)
    pem = pki.sign_csr(ca_dir, files.csr.read_bytes(), party_id=party, hosts=hosts)
    pki.party_files(party_dir, party).cert.write_bytes(pem)
    return pem


@pytest.fixture
def ca_dir(tmp_path: Path) -> Path:
    d = tmp_path / "ca"
    pki.create_ca(d)
    return d


def test_the_party_key_never_reaches_the_ca(ca_dir: Path, tmp_path: Path) -> None:
    party_dir = tmp_path / "party"
    files = pki.make_csr(party_dir, A, ["localhost", "127.0.0.1", "router.a.example"])
    assert files.key == pki.party_files(party_dir, A).key
    assert stat.S_IMODE(files.key.stat().st_mode) == 0o600
    key_pem = files.key.read_bytes()

    pem = pki.sign_csr(
        ca_dir, files.csr.read_bytes(), party_id=A, hosts=["localhost", "127.0.0.1", "router.a.example"]
    )

    assert set(_files(ca_dir)) == {"ca.crt", "ca.key", "issued.jsonl"}
    key = serialization.load_pem_private_key(key_pem, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    scalar = key.private_numbers().private_value.to_bytes(32, "big")
    for name, data in _files(ca_dir).items():
        assert key_pem not in data and scalar not in data, name
    cert = _cert(pem)
    assert cert.public_key() == key.public_key()
    assert pki.identity_from_cert(pem) == A
    cert.verify_directly_issued_by(_cert(pki.ca_files(ca_dir).cert.read_bytes()))
    assert [c.serial for c in pki.issued_certificates(ca_dir, A)] == [cert.serial_number]


def test_csr_and_ca_made_keys_get_the_same_certificate(ca_dir: Path, tmp_path: Path) -> None:
    """One issuer: subject, SANs, every extension and the validity period are the same."""
    hosts = ("localhost", "127.0.0.1", "10.0.0.2", "router.b.example")
    by_csr = _cert(_enrol(ca_dir, tmp_path / "party", B, hosts))
    by_ca = _cert(pki.issue_party_cert(ca_dir, B, hosts).cert.read_bytes())

    assert by_csr.subject == by_ca.subject and by_csr.issuer == by_ca.issuer
    assert list(by_csr.extensions) == list(by_ca.extensions)
    lifetime = by_csr.not_valid_after_utc - by_csr.not_valid_before_utc
    assert lifetime == by_ca.not_valid_after_utc - by_ca.not_valid_before_utc
    assert lifetime >= datetime.timedelta(days=pki.PARTY_DAYS)
    assert by_csr.serial_number != by_ca.serial_number
    assert [c.serial for c in pki.issued_certificates(ca_dir, B)] == [
        by_csr.serial_number,
        by_ca.serial_number,
    ]


# ----- requests the CA must refuse ------------------------------------------------------------


def _csr(
    *,
    key: object = None,
    subject: x509.Name | None = None,
    sans: list[x509.GeneralName] | None = None,
    extensions: tuple[x509.ExtensionType, ...] = (),
) -> bytes:
    signing_key = key if key is not None else ec.generate_private_key(ec.SECP256R1())
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        subject if subject is not None else _subject(f"party-{A}")
    )
    if sans is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    for ext in extensions:
        builder = builder.add_extension(ext, critical=True)
    csr = builder.sign(signing_key, hashes.SHA256())  # type: ignore[arg-type]
    return csr.public_bytes(serialization.Encoding.PEM)


def _subject(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "silobridge"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _uri(pid: int) -> x509.UniformResourceIdentifier:
    return x509.UniformResourceIdentifier(f"silobridge://party/{pid}")


def _good_sans(pid: int = A) -> list[x509.GeneralName]:
    return [_uri(pid), x509.DNSName(f"party-{pid}"), x509.DNSName("localhost")]


def _tampered() -> bytes:
    """A genuine request with one byte of its SAN changed: its signature no longer verifies."""
    der = x509.load_pem_x509_csr(_csr(sans=_good_sans())).public_bytes(serialization.Encoding.DER)
    assert der.count(b"party/9999") == 1
    return der.replace(b"party/9999", b"party/9998")


REFUSED: dict[str, tuple[Callable[[], bytes], str]] = {
    "another party in the subject": (
        lambda: _csr(subject=_subject(f"party-{B}"), sans=_good_sans()),
        f"it names party {B}, but it is being signed for party {A}",
    ),
    "another party in the SAN": (
        lambda: _csr(sans=[_uri(B), x509.DNSName(f"party-{A}")]),
        f"it names party {B}, but it is being signed for party {A}",
    ),
    "a second party URI": (
        lambda: _csr(sans=[*_good_sans(), _uri(B)]),
        f"it names party {B}",
    ),
    "some other URI": (
        lambda: _csr(sans=[*_good_sans(), x509.UniformResourceIdentifier("https://bank.example")]),
        "asks for the URI 'https://bank.example'",
    ),
    "a host the operator did not allow": (
        lambda: _csr(sans=[*_good_sans(), x509.DNSName("www.bank.example")]),
        "asks for the host 'www.bank.example', which the CA operator did not allow",
    ),
    "an IP the operator did not allow": (
        lambda: _csr(sans=[*_good_sans(), x509.IPAddress(ipaddress.ip_address("10.9.9.9"))]),
        "asks for the host '10.9.9.9'",
    ),
    "an e-mail name": (
        lambda: _csr(sans=[*_good_sans(), x509.RFC822Name("ops@bank.example")]),
        "asks for a RFC822Name name",
    ),
    "no party URI": (
        lambda: _csr(sans=[x509.DNSName(f"party-{A}")]),
        f"must include 'silobridge://party/{A}'",
    ),
    "no SAN at all": (lambda: _csr(), "no subjectAltName"),
    "a CA certificate": (
        lambda: _csr(sans=_good_sans(), extensions=(x509.BasicConstraints(ca=True, path_length=None),)),
        r"asks for a CA certificate \(basicConstraints CA=true\)",
    ),
    "a code-signing key usage": (
        lambda: _csr(
            sans=_good_sans(), extensions=(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]),)
        ),
        "asks for the 2.5.29.37 extension; the CA sets the extensions",
    ),
    "an RSA key": (
        lambda: _csr(key=rsa.generate_private_key(public_exponent=65537, key_size=2048), sans=_good_sans()),
        "the key must be EC P-256 like every party key, not RSA",
    ),
    "a P-384 key": (
        lambda: _csr(key=ec.generate_private_key(ec.SECP384R1()), sans=_good_sans()),
        "not EC secp384r1",
    ),
    "a broken signature": (_tampered, "its signature does not verify"),
    "an extra subject attribute": (
        lambda: _csr(
            subject=x509.Name([*_subject(f"party-{A}"), x509.NameAttribute(NameOID.COUNTRY_NAME, "CH")]),
            sans=_good_sans(),
        ),
        "is not 'CN=party-9999,O=silobridge'",
    ),
    "oversized input": (lambda: b"-----BEGIN CERTIFICATE REQUEST-----\n" + b"A" * 20000, "at most 16384"),
    "not a CSR": (lambda: b"hello", "not a PEM or DER certificate signing request"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_forged_and_mismatched_requests_are_refused_and_change_nothing(ca_dir: Path, case: str) -> None:
    make, message = REFUSED[case]
    pki.issue_crl(ca_dir)
    before = _files(ca_dir)
    with pytest.raises(InvalidInput, match=message):
        pki.sign_csr(ca_dir, make(), party_id=A, hosts=["localhost", "127.0.0.1"])
    assert _files(ca_dir) == before


def test_the_good_request_of_those_cases_is_signed(ca_dir: Path) -> None:
    """The control case: the same builder without the flaw gets a certificate."""
    pem = pki.sign_csr(ca_dir, _csr(sans=_good_sans()), party_id=A, hosts=["localhost"])
    san = _cert(pem).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san) == set(_good_sans())


def test_hosts_compare_as_addresses_and_case_insensitive_names(ca_dir: Path, tmp_path: Path) -> None:
    files = pki.make_csr(tmp_path / "p", A, ["Router.A.Example", "::1"])
    pem = pki.sign_csr(ca_dir, files.csr.read_bytes(), party_id=A, hosts=["router.a.example", "0:0::1"])
    san = _cert(pem).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "Router.A.Example" in san.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["::1"]


def test_make_csr_keeps_an_existing_key(tmp_path: Path) -> None:
    first = pki.make_csr(tmp_path, A)
    key = first.key.read_bytes()
    with pytest.raises(Conflict, match="to rotate, make the new key and request in another directory"):
        pki.make_csr(tmp_path, A)
    assert first.key.read_bytes() == key
    assert pki.make_csr(tmp_path, A, force=True).key.read_bytes() != key


def test_sign_needs_a_ca(tmp_path: Path) -> None:
    files = pki.make_csr(tmp_path / "p", A)
    with pytest.raises(NotFound, match="no CA in"):
        pki.sign_csr(tmp_path / "nothing", files.csr.read_bytes(), party_id=A)


# ----- rotation and revocation ----------------------------------------------------------------


def _revoked(ca_dir: Path) -> set[int]:
    crl = x509.load_pem_x509_crl((ca_dir / pki.CRL_FILE).read_bytes())
    return {r.serial_number for r in crl}


def test_rotation_gives_a_new_serial_and_the_old_certificate_stays_until_revoked(
    ca_dir: Path, tmp_path: Path
) -> None:
    old = _cert(_enrol(ca_dir, tmp_path / "current", A))
    new = _cert(_enrol(ca_dir, tmp_path / "next", A))  # a second request, from a new key

    assert new.serial_number != old.serial_number
    assert new.public_key() != old.public_key()
    ca = _cert(pki.ca_files(ca_dir).cert.read_bytes())
    for cert in (old, new):
        cert.verify_directly_issued_by(ca)
        assert pki.identity_from_cert(cert.public_bytes(serialization.Encoding.PEM)) == A
    assert not (ca_dir / pki.CRL_FILE).exists()  # nothing revoked by the rotation itself

    pki.revoke(ca_dir, serial=old.serial_number)
    assert _revoked(ca_dir) == {old.serial_number}
    pki.revoke(ca_dir, party_id=A)  # by party: its newest certificate
    assert _revoked(ca_dir) == {old.serial_number, new.serial_number}


def test_revoke_by_serial_needs_a_certificate_of_this_ca(ca_dir: Path) -> None:
    with pytest.raises(NotFound, match="no record of issuing serial abc"):
        pki.revoke(ca_dir, serial=0xABC)
    with pytest.raises(InvalidInput, match="a party id, a certificate file or a serial"):
        pki.revoke(ca_dir, party_id=A, serial=0xABC)


def test_revoke_by_party_of_a_ca_older_than_the_ledger(ca_dir: Path) -> None:
    files = pki.issue_party_cert(ca_dir, A)
    (ca_dir / pki.LEDGER_FILE).unlink()
    pki.revoke(ca_dir, party_id=A)
    assert _revoked(ca_dir) == {_cert(files.cert.read_bytes()).serial_number}


# ----- the CLI --------------------------------------------------------------------------------


def test_cli_csr_then_sign(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ca_dir, party_dir = tmp_path / "ca", tmp_path / "party"
    assert cli(["pki", "init", "--dir", str(ca_dir)]) == 0
    assert cli(["pki", "csr", "--dir", str(party_dir), "--party", str(A), "--host", "router.a"]) == 0
    assert set(_files(party_dir)) == {f"party-{A}.key", f"party-{A}.csr"}
    out = party_dir / f"party-{A}.crt"
    args = ["pki", "sign", "--ca-dir", str(ca_dir), "--csr", str(party_dir / f"party-{A}.csr")]

    capsys.readouterr()
    assert cli([*args, "--party", str(B), "--out", str(out), "--host", "router.a"]) == 1
    assert f"it names party {A}, but it is being signed for party {B}" in capsys.readouterr().err
    assert cli([*args, "--party", str(A), "--out", str(out)]) == 1  # router.a not allowed
    assert "asks for the host 'router.a'" in capsys.readouterr().err
    assert not out.exists() and set(_files(ca_dir)) == {"ca.crt", "ca.key"}

    assert cli([*args, "--party", str(A), "--out", str(out), "--host", "router.a"]) == 0
    serial = pki.peer_certificate(out.read_bytes()).serial
    assert f"(serial {serial:x})" in capsys.readouterr().out
    assert pki.identity_from_file(out) == A
    assert set(_files(ca_dir)) == {"ca.crt", "ca.key", "issued.jsonl"}

    assert cli(["pki", "revoke", "--dir", str(ca_dir), "--serial", f"{serial:x}"]) == 0
    assert _revoked(ca_dir) == {serial}
