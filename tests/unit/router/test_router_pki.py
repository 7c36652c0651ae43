"""The platform PKI and the strict party identity a router reads from a peer certificate."""

from __future__ import annotations

import datetime
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from silobridge import pki
from silobridge.errors import Conflict, InvalidInput, NotFound
from silobridge_cli.main import main as cli


def _cert(cn: str | None, sans: list[x509.GeneralName] | None) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else [])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")]))
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    if sans is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def _uri(pid: object) -> x509.UniformResourceIdentifier:
    return x509.UniformResourceIdentifier(f"silobridge://party/{pid}")


def test_issued_certificate_identifies_its_party(tmp_path):
    pki.create_ca(tmp_path)
    files = pki.issue_party_cert(tmp_path, 10000, ["localhost", "127.0.0.1", "router.example.org"])
    pem = files.cert.read_bytes()
    assert pki.identity_from_cert(pem) == 10000
    cert = x509.load_pem_x509_certificate(pem)
    der = cert.public_bytes(serialization.Encoding.DER)
    assert pki.identity_from_cert(der) == 10000
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == {"party-10000", "localhost", "router.example.org"}
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "party-10000"
    ca = x509.load_pem_x509_certificate(pki.ca_files(tmp_path).cert.read_bytes())
    cert.verify_directly_issued_by(ca)


def test_private_keys_are_owner_only(tmp_path):
    pki.create_ca(tmp_path)
    pki.issue_party_cert(tmp_path, 9999)
    for key in (tmp_path / "ca.key", tmp_path / "party-9999.key"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("cn", "sans", "match"),
    [
        ("party-1", None, "no subjectAltName"),
        ("party-1", [x509.DNSName("party-1")], "exactly one"),
        ("party-1", [_uri(1), _uri(2)], "exactly one"),
        ("party-2", [_uri(1)], "does not match"),
        ("admin", [_uri(1)], "does not match"),
        ("party-1", [_uri("01")], "malformed"),
        ("party-1", [_uri("1/../2")], "malformed"),
        ("party-1", [_uri("-1")], "malformed"),
    ],
)
def test_ambiguous_or_malformed_identities_are_refused(cn, sans, match):
    with pytest.raises(InvalidInput, match=match):
        pki.identity_from_cert(_cert(cn, sans))


def test_identity_without_cn_uses_the_uri():
    assert pki.identity_from_cert(_cert(None, [_uri(42)])) == 42


def test_garbage_is_not_a_certificate():
    with pytest.raises(InvalidInput, match="not a PEM or DER"):
        pki.identity_from_cert(b"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")


def test_ca_is_not_overwritten_without_force(tmp_path):
    first = pki.create_ca(tmp_path).cert.read_bytes()
    with pytest.raises(Conflict, match="--force"):
        pki.create_ca(tmp_path)
    assert pki.ca_files(tmp_path).cert.read_bytes() == first
    assert pki.create_ca(tmp_path, force=True).cert.read_bytes() != first


def test_issue_needs_a_ca(tmp_path):
    with pytest.raises(NotFound, match="pki init"):
        pki.issue_party_cert(tmp_path, 9999)


def test_bad_party_ids_and_hosts(tmp_path):
    pki.create_ca(tmp_path)
    with pytest.raises(InvalidInput, match="party id"):
        pki.issue_party_cert(tmp_path, 0)
    with pytest.raises(InvalidInput, match="host name"):
        pki.issue_party_cert(tmp_path, 1, ["bad host/"])


def test_ensure_pki_keeps_what_exists(tmp_path):
    pki.ensure_pki(tmp_path, [1, 2])
    ca, cert1 = (tmp_path / "ca.crt").read_bytes(), (tmp_path / "party-1.crt").read_bytes()
    pki.ensure_pki(tmp_path, [1, 2, 3])
    assert (tmp_path / "ca.crt").read_bytes() == ca
    assert (tmp_path / "party-1.crt").read_bytes() == cert1
    assert pki.identity_from_file(tmp_path / "party-3.crt") == 3


def test_cli_init_issue_demo(tmp_path, capsys):
    d = tmp_path / "certs"
    assert cli(["pki", "init", "--dir", str(d)]) == 0
    assert cli(["pki", "init", "--dir", str(d)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert cli(["pki", "issue", "--dir", str(d), "--party", "9999", "--host", "10.1.2.3"]) == 0
    cert = x509.load_pem_x509_certificate((d / "party-9999.crt").read_bytes())
    ips = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.IPAddress
    )
    assert [str(ip) for ip in ips] == ["10.1.2.3"]

    demo = tmp_path / "demo"
    assert cli(["pki", "demo", "--dir", str(demo), "--parties", "9999", "10000", "10001"]) == 0
    for pid in (9999, 10000, 10001):
        assert pki.identity_from_file(demo / f"party-{pid}.crt") == pid
    assert cli(["pki", "demo", "--dir", str(demo), "--parties", "9999"]) == 1
    assert cli(["pki", "demo", "--dir", str(demo), "--parties", "9999", "--force"]) == 0
