"""The platform's own small PKI: one CA per federation, one certificate per party router.

Routers authenticate each other with mutual TLS, and a router believes only the party id in the
peer's *certificate*, never the id a message claims. So a party certificate must say exactly one
thing: ``CN=party-<id>`` together with the SAN URI ``silobridge://party/<id>``. It also carries
the DNS name ``party-<id>`` that clients pin with ``ssl_target_name_override``, plus the DNS/IP
names of the hosts the router listens on.

The CA also signs the revocation list (an X.509 CRL) that every router checks: ``revoke``
adds a party's certificate to it, ``issue_crl`` re-signs it with a fresh next-update time.

Files (keys are written with mode 0600)::

    <dir>/ca.crt  <dir>/ca.key  <dir>/party-<id>.crt  <dir>/party-<id>.key  <dir>/ca.crl
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from silobridge.errors import Conflict, InvalidInput, NotFound

PARTY_URI_PREFIX = "silobridge://party/"
DEFAULT_HOSTS: tuple[str, ...] = ("localhost", "127.0.0.1")
CA_DAYS = 3650
PARTY_DAYS = 825
CRL_DAYS = 30
CRL_FILE = "ca.crl"
MAX_PARTY_ID = 2**63 - 1

_PARTY_URI = re.compile(r"^silobridge://party/([1-9][0-9]{0,18})$")
_PARTY_CN = re.compile(r"^party-([1-9][0-9]{0,18})$")


@dataclass(frozen=True)
class CertFiles:
    cert: Path
    key: Path


@dataclass(frozen=True)
class PeerCertificate:
    """What a router needs from a verified peer certificate: who, which one, and its key."""

    party_id: int
    serial: int
    #: SHA-256 of the DER certificate, hex: names the exact certificate in audit records.
    sha256: str
    public_key: CertificatePublicKeyTypes


def ca_files(directory: Path) -> CertFiles:
    return CertFiles(Path(directory) / "ca.crt", Path(directory) / "ca.key")


def party_files(directory: Path, party_id: int) -> CertFiles:
    pid = _check_party_id(party_id)
    return CertFiles(Path(directory) / f"party-{pid}.crt", Path(directory) / f"party-{pid}.key")


def party_name(party_id: int) -> str:
    """The DNS name / CN of a party router; clients pin it as the TLS target name."""
    return f"party-{_check_party_id(party_id)}"


def party_uri(party_id: int) -> str:
    return f"{PARTY_URI_PREFIX}{_check_party_id(party_id)}"


def create_ca(directory: Path, *, force: bool = False, common_name: str = "silobridge CA") -> CertFiles:
    """Create a self-signed CA in ``directory``. Refuses to replace an existing CA unless ``force``."""
    directory = Path(directory)
    files = ca_files(directory)
    if not force and (files.cert.exists() or files.key.exists()):
        raise Conflict(
            f"a CA already exists in {directory} (ca.crt/ca.key); use --force to replace it "
            "(every party certificate issued by the old CA stops being trusted)"
        )
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "silobridge"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_key(files.key, key)
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return files


def issue_party_cert(directory: Path, party_id: int, hosts: Sequence[str] = DEFAULT_HOSTS) -> CertFiles:
    """Issue (or re-issue) the router certificate of ``party_id`` signed by the CA in ``directory``."""
    directory = Path(directory)
    pid = _check_party_id(party_id)
    ca_key, ca_cert = _load_ca(directory)
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "silobridge"),
                    x509.NameAttribute(NameOID.COMMON_NAME, party_name(pid)),
                ]
            )
        )
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=PARTY_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(x509.SubjectAlternativeName(_san_entries(pid, hosts)), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    files = party_files(directory, pid)
    _write_key(files.key, key)
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return files


def ensure_pki(directory: Path, party_ids: Iterable[int], hosts: Sequence[str] = DEFAULT_HOSTS) -> None:
    """Demo/single-process helper: create the CA if missing and any missing party certificate."""
    directory = Path(directory)
    if not ca_files(directory).cert.exists():
        create_ca(directory)
    for pid in party_ids:
        files = party_files(directory, pid)
        if not (files.cert.exists() and files.key.exists()):
            issue_party_cert(directory, pid, hosts)


def identity_from_cert(pem_or_der: bytes) -> int:
    """The party id a router certificate identifies. Strict: anything ambiguous is refused.

    The certificate must carry exactly one ``silobridge://party/<id>`` SAN URI, and its subject
    CN, if present, must be ``party-<same id>``.
    """
    return _identity(_load_cert(pem_or_der))


def peer_certificate(pem_or_der: bytes) -> PeerCertificate:
    """Party id (as :func:`identity_from_cert`), serial, fingerprint and public key of a certificate."""
    cert = _load_cert(pem_or_der)
    return PeerCertificate(
        party_id=_identity(cert),
        serial=cert.serial_number,
        sha256=cert.fingerprint(hashes.SHA256()).hex(),
        public_key=cert.public_key(),
    )


def revoke(directory: Path, *, party_id: int | None = None, cert_file: Path | None = None) -> Path:
    """Add a certificate (by default the party's current one) to the CA's CRL and re-sign it."""
    directory = Path(directory)
    if (party_id is None) == (cert_file is None):
        raise InvalidInput("name the certificate to revoke: a party id or a certificate file")
    path = cert_file if cert_file is not None else party_files(directory, party_id or 0).cert
    try:
        cert = _load_cert(Path(path).read_bytes())
    except OSError as exc:
        raise NotFound(f"certificate {path}: cannot read ({exc.strerror})") from None
    _, ca_cert = _load_ca(directory)
    try:
        cert.verify_directly_issued_by(ca_cert)  # the CA's signature, not just its name
    except (ValueError, TypeError, InvalidSignature):
        raise InvalidInput(f"certificate {path} was not issued by the CA in {directory}") from None
    revoked = dict(_revoked_entries(directory))
    revoked.setdefault(cert.serial_number, _now())
    return issue_crl(directory, revoked)


def issue_crl(
    directory: Path, revoked: dict[int, datetime.datetime] | None = None, *, days: int = CRL_DAYS
) -> Path:
    """Write ``<dir>/ca.crl`` signed by the CA: ``revoked`` (serial -> date), else the current list."""
    directory = Path(directory)
    ca_key, ca_cert = _load_ca(directory)
    entries = revoked if revoked is not None else dict(_revoked_entries(directory))
    now = _now()
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now - datetime.timedelta(minutes=5))
        .next_update(now + datetime.timedelta(days=days))
    )
    for serial, when in sorted(entries.items()):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build()
        )
    crl = builder.sign(ca_key, hashes.SHA256())
    path = directory / CRL_FILE
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    os.replace(tmp, path)  # a router polling the file never reads half of it
    return path


def _revoked_entries(directory: Path) -> list[tuple[int, datetime.datetime]]:
    path = Path(directory) / CRL_FILE
    if not path.exists():
        return []
    crl = x509.load_pem_x509_crl(path.read_bytes())
    return [(r.serial_number, r.revocation_date_utc) for r in crl]


def _identity(cert: x509.Certificate) -> int:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise InvalidInput(
            "certificate has no subjectAltName: it does not identify a silobridge party"
        ) from None
    party_uris = [
        u for u in san.get_values_for_type(x509.UniformResourceIdentifier) if u.startswith(PARTY_URI_PREFIX)
    ]
    if len(party_uris) != 1:
        raise InvalidInput(
            f"certificate must carry exactly one {PARTY_URI_PREFIX}<id> SAN URI, found {len(party_uris)}"
        )
    match = _PARTY_URI.match(party_uris[0])
    if match is None:
        raise InvalidInput(f"malformed party URI in certificate: {party_uris[0]!r}")
    pid = int(match.group(1))
    if pid > MAX_PARTY_ID:
        raise InvalidInput(f"party id in certificate out of range: {pid}")
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(cns) > 1:
        raise InvalidInput("certificate subject has more than one CN")
    if cns:
        cn = cns[0].value
        cn_match = _PARTY_CN.match(cn if isinstance(cn, str) else "")
        if cn_match is None or int(cn_match.group(1)) != pid:
            raise InvalidInput(f"certificate CN {cn!r} does not match its party URI {party_uris[0]!r}")
    return pid


def identity_from_file(path: Path) -> int:
    return identity_from_cert(Path(path).read_bytes())


# ----- helpers ------------------------------------------------------------------------------


def _check_party_id(party_id: int) -> int:
    if isinstance(party_id, bool) or not isinstance(party_id, int) or not 1 <= party_id <= MAX_PARTY_ID:
        raise InvalidInput(f"invalid party id {party_id!r}: a positive integer")
    return party_id


def _san_entries(pid: int, hosts: Sequence[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [
        x509.UniformResourceIdentifier(party_uri(pid)),
        x509.DNSName(party_name(pid)),
    ]
    seen = {party_name(pid)}
    for host in hosts:
        host = host.strip()
        if not host or host in seen:
            continue
        seen.add(host)
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            if not re.match(r"^[A-Za-z0-9*]([A-Za-z0-9\-.]*[A-Za-z0-9])?$", host):
                raise InvalidInput(f"invalid host name for a certificate: {host!r}") from None
            names.append(x509.DNSName(host))
    return names


def _load_ca(directory: Path) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    files = ca_files(directory)
    if not (files.cert.exists() and files.key.exists()):
        raise NotFound(f"no CA in {directory}: run `silobridge pki init --dir {directory}` first")
    key = serialization.load_pem_private_key(files.key.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise InvalidInput(f"{files.key} is not an EC private key")
    return key, x509.load_pem_x509_certificate(files.cert.read_bytes())


def _load_cert(data: bytes) -> x509.Certificate:
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError:
        raise InvalidInput("not a PEM or DER X.509 certificate") from None


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)
