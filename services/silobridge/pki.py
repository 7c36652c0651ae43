"""The platform's own small PKI: one CA per federation, one certificate per party router.

Routers authenticate each other with mutual TLS, and a router believes only the party id in the
peer's *certificate*, never the id a message claims. So a party certificate must say exactly one
thing: ``CN=party-<id>`` together with the SAN URI ``silobridge://party/<id>``. It also carries
the DNS name ``party-<id>`` that clients pin with ``ssl_target_name_override``, plus the DNS/IP
names of the hosts the router listens on.

Two ways to a party certificate. ``issue_party_cert`` makes the key at the CA (demo, one
operator). ``make_csr`` + ``sign_csr`` is enrolment by request: the party makes its own key
and a CSR, the CA operator checks the CSR against the party id it expects and signs it, so the
CA never holds a party's private key. Both go through one issuer (same extensions, validity and
serials), and the CA appends every certificate it signs to its ledger ``issued.jsonl``.

The CA also signs the revocation list (an X.509 CRL) that every router checks: ``revoke``
adds a party's certificate to it, ``issue_crl`` re-signs it with a fresh next-update time.

Files (keys are written with mode 0600)::

    CA:    <dir>/ca.crt  <dir>/ca.key  <dir>/ca.crl  <dir>/issued.jsonl
           <dir>/party-<id>.crt  <dir>/party-<id>.key      (issue_party_cert only)
    party: <dir>/party-<id>.key  <dir>/party-<id>.csr      (make_csr; the signed cert goes beside)
"""

from __future__ import annotations

import datetime
import ipaddress
import json
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

from silobridge.errors import Conflict, IntegrityError, InvalidInput, NotFound

PARTY_URI_PREFIX = "silobridge://party/"
DEFAULT_HOSTS: tuple[str, ...] = ("localhost", "127.0.0.1")
CA_DAYS = 3650
PARTY_DAYS = 825
CRL_DAYS = 30
CRL_FILE = "ca.crl"
LEDGER_FILE = "issued.jsonl"
MAX_PARTY_ID = 2**63 - 1
#: A party CSR with a few hosts is under 1 KiB of PEM; anything far larger is not one.
MAX_CSR_BYTES = 16 * 1024

_PARTY_URI = re.compile(r"^silobridge://party/([1-9][0-9]{0,18})$")
_PARTY_CN = re.compile(r"^party-([1-9][0-9]{0,18})$")


@dataclass(frozen=True)
class CertFiles:
    cert: Path
    key: Path


@dataclass(frozen=True)
class CsrFiles:
    key: Path
    csr: Path


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


def csr_files(directory: Path, party_id: int) -> CsrFiles:
    """The party's own key (same name as in :func:`party_files`) and its request."""
    key = party_files(directory, party_id).key
    return CsrFiles(key, key.with_suffix(".csr"))


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
    """Issue (or re-issue) the router certificate of ``party_id`` signed by the CA in ``directory``.

    The key is made here, at the CA: for a demo or a single operator. Across organisations use
    :func:`make_csr` at the party and :func:`sign_csr` at the CA.
    """
    directory = Path(directory)
    pid = _check_party_id(party_id)
    ca_key, ca_cert = _load_ca(directory)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _issue(directory, ca_key, ca_cert, pid, key.public_key(), _san_entries(pid, hosts))
    files = party_files(directory, pid)
    _write_key(files.key, key)
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return files


def make_csr(
    directory: Path, party_id: int, hosts: Sequence[str] = DEFAULT_HOSTS, *, force: bool = False
) -> CsrFiles:
    """At the party: write its own private key (0600) and a CSR for its router certificate.

    The request carries exactly the subject and SANs :func:`issue_party_cert` would put in the
    certificate. Refuses to replace an existing key unless ``force``: the certificate in use would
    stop matching it. To rotate, make the new key and request in another directory.
    """
    directory = Path(directory)
    pid = _check_party_id(party_id)
    sans = _san_entries(pid, hosts)
    files = csr_files(directory, pid)
    if files.key.exists() and not force:
        raise Conflict(
            f"{files.key} already exists; to rotate, make the new key and request in another "
            "directory (or use --force to replace it: the certificate in use stops matching it)"
        )
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(_party_subject(pid))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_key(files.key, key)
    files.csr.write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    return files


def sign_csr(
    ca_directory: Path, csr_pem: bytes, *, party_id: int, hosts: Sequence[str] = DEFAULT_HOSTS
) -> bytes:
    """At the CA: check a party's CSR and sign it; the certificate as PEM.

    ``party_id`` is the party the CA operator expects (not read from the request), and ``hosts``
    the DNS names / IPs the operator allows in it. The request must be signed by its own key (an
    EC P-256 key, like every party key), name exactly that party in its subject and SANs, ask for
    no host outside ``hosts`` and for nothing else: no CA, no other names, no other extensions.
    A refused request changes nothing at the CA.
    """
    ca_directory = Path(ca_directory)
    pid = _check_party_id(party_id)
    csr = _load_csr(csr_pem)
    public_key = _check_csr(csr, pid)
    ca_key, ca_cert = _load_ca(ca_directory)
    cert = _issue(ca_directory, ca_key, ca_cert, pid, public_key, _requested_sans(csr, pid, hosts))
    return cert.public_bytes(serialization.Encoding.PEM)


def _issue(
    directory: Path,
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    pid: int,
    public_key: ec.EllipticCurvePublicKey,
    sans: list[x509.GeneralName],
) -> x509.Certificate:
    """The one issuer of party certificates: extensions, validity and a fresh serial; recorded."""
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_party_subject(pid))
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
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
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    if _identity(cert) != pid:  # the issuer's own output must pass the routers' strict check
        raise InvalidInput(f"refusing to issue a certificate that does not identify party {pid}")
    _record_issued(directory, pid, cert)
    return cert


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


def revoke(
    directory: Path,
    *,
    party_id: int | None = None,
    cert_file: Path | None = None,
    serial: int | None = None,
) -> Path:
    """Add a certificate to the CA's CRL and re-sign it.

    Name it by party (the newest certificate the CA issued to it), by file, or by serial (one
    the CA's ledger holds: certificates signed from a CSR are only there at the CA).
    """
    directory = Path(directory)
    if sum(x is not None for x in (party_id, cert_file, serial)) != 1:
        raise InvalidInput("name the certificate to revoke: a party id, a certificate file or a serial")
    if cert_file is not None:
        try:
            data = Path(cert_file).read_bytes()
        except OSError as exc:
            raise NotFound(f"certificate {cert_file}: cannot read ({exc.strerror})") from None
        where = str(cert_file)
    elif serial is not None:
        found = [c for c in issued_certificates(directory) if c.serial == serial]
        if not found:
            raise NotFound(f"the CA in {directory} has no record of issuing serial {serial:x}")
        data, where = found[0].pem, f"serial {serial:x}"
    else:
        data, where = _current_cert(directory, _check_party_id(party_id or 0))
    cert = _load_cert(data)
    _, ca_cert = _load_ca(directory)
    try:
        cert.verify_directly_issued_by(ca_cert)  # the CA's signature, not just its name
    except (ValueError, TypeError, InvalidSignature):
        raise InvalidInput(f"certificate {where} was not issued by the CA in {directory}") from None
    revoked = dict(_revoked_entries(directory))
    revoked.setdefault(cert.serial_number, _now())
    return issue_crl(directory, revoked)


@dataclass(frozen=True)
class IssuedCertificate:
    """One line of the CA's ledger: a certificate it signed, whichever way it was requested."""

    serial: int
    party_id: int
    sha256: str
    not_after: datetime.datetime
    pem: bytes


def issued_certificates(directory: Path, party_id: int | None = None) -> list[IssuedCertificate]:
    """What the CA in ``directory`` has issued (of ``party_id``, if given), oldest first."""
    path = Path(directory) / LEDGER_FILE
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    out = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            entry = IssuedCertificate(
                serial=int(row["serial"], 16),
                party_id=int(row["party_id"]),
                sha256=str(row["sha256"]),
                not_after=datetime.datetime.fromisoformat(row["not_after"]),
                pem=str(row["pem"]).encode("ascii"),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            raise IntegrityError(f"{path} line {number} is not a ledger record") from None
        if party_id is None or entry.party_id == party_id:
            out.append(entry)
    return out


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


def _current_cert(directory: Path, pid: int) -> tuple[bytes, str]:
    """The newest certificate the CA issued to ``pid``: from its ledger, else (a CA older than
    the ledger) the party certificate file in the CA directory."""
    issued = issued_certificates(directory, pid)
    if issued:
        return issued[-1].pem, f"party {pid}'s newest ({issued[-1].serial:x})"
    path = party_files(directory, pid).cert
    try:
        return path.read_bytes(), str(path)
    except OSError as exc:
        raise NotFound(f"certificate {path}: cannot read ({exc.strerror})") from None


def _record_issued(directory: Path, pid: int, cert: x509.Certificate) -> None:
    """Append a certificate to the CA's ledger (one JSON line; the file only grows)."""
    row = {
        "serial": f"{cert.serial_number:x}",
        "party_id": pid,
        "sha256": cert.fingerprint(hashes.SHA256()).hex(),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "issued": _now().isoformat(),
        "pem": cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
    }
    fd = os.open(Path(directory) / LEDGER_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, (json.dumps(row, sort_keys=True) + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)


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


def _party_subject(pid: int) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "silobridge"),
            x509.NameAttribute(NameOID.COMMON_NAME, party_name(pid)),
        ]
    )


def _load_csr(data: bytes) -> x509.CertificateSigningRequest:
    if len(data) > MAX_CSR_BYTES:
        raise InvalidInput(f"CSR refused: {len(data)} bytes, a party CSR is at most {MAX_CSR_BYTES}")
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_csr(data)
        return x509.load_der_x509_csr(data)
    except ValueError:
        raise InvalidInput("CSR refused: not a PEM or DER certificate signing request") from None


def _check_csr(csr: x509.CertificateSigningRequest, pid: int) -> ec.EllipticCurvePublicKey:
    """Everything about a request but its SANs; the key to certify."""
    if not csr.is_signature_valid:
        raise InvalidInput("CSR refused: its signature does not verify with the key it carries")
    key = csr.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise InvalidInput(
            f"CSR refused: the key must be EC P-256 like every party key, not {_key_kind(key)}"
        )
    if csr.subject != _party_subject(pid):
        cns = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        cn = cns[0].value if len(cns) == 1 else None
        other = _PARTY_CN.match(cn) if isinstance(cn, str) else None
        if other is not None and int(other.group(1)) != pid:
            raise InvalidInput(
                f"CSR refused: it names party {other.group(1)}, but it is being signed for party {pid}"
            )
        raise InvalidInput(
            f"CSR refused: subject {csr.subject.rfc4514_string()!r} is not "
            f"{_party_subject(pid).rfc4514_string()!r}"
        )
    try:
        extensions = list(csr.extensions)
    except (x509.DuplicateExtension, ValueError) as exc:
        raise InvalidInput(f"CSR refused: unreadable extensions ({exc})") from None
    for ext in extensions:
        value = ext.value
        if isinstance(value, x509.BasicConstraints):
            if value.ca:
                raise InvalidInput("CSR refused: it asks for a CA certificate (basicConstraints CA=true)")
        elif not isinstance(value, x509.SubjectAlternativeName):
            raise InvalidInput(
                f"CSR refused: it asks for the {ext.oid.dotted_string} extension; the CA sets the "
                "extensions of a party certificate itself"
            )
    return key


def _requested_sans(
    csr: x509.CertificateSigningRequest, pid: int, hosts: Sequence[str]
) -> list[x509.GeneralName]:
    """The SANs to certify: exactly the party's URI and name plus hosts that ``hosts`` allows."""
    try:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise InvalidInput("CSR refused: it has no subjectAltName naming the party") from None
    allowed = {_host_key(h) for h in hosts if h.strip()}
    requested: list[str] = []
    for name in san:
        if isinstance(name, x509.UniformResourceIdentifier):
            match = _PARTY_URI.match(name.value)
            if match is not None and int(match.group(1)) != pid:
                raise InvalidInput(
                    f"CSR refused: it names party {match.group(1)}, but it is being signed for party {pid}"
                )
            if name.value != party_uri(pid):
                raise InvalidInput(f"CSR refused: it asks for the URI {name.value!r}")
        elif isinstance(name, x509.DNSName | x509.IPAddress):
            host = str(name.value)
            if host == party_name(pid):
                continue
            if _host_key(host) not in allowed:
                raise InvalidInput(
                    f"CSR refused: it asks for the host {host!r}, which the CA operator did not allow "
                    f"(allowed: {', '.join(sorted(allowed)) or 'none'}; pass it with --host if it is right)"
                )
            requested.append(host)
        else:
            raise InvalidInput(f"CSR refused: it asks for a {type(name).__name__} name, not a host")
    sans = _san_entries(pid, requested)
    if set(san) != set(sans):
        raise InvalidInput(f"CSR refused: its names must include {party_uri(pid)!r} and {party_name(pid)!r}")
    return sans


def _host_key(host: str) -> str:
    """Hosts compare as IP addresses or case-insensitive DNS names."""
    host = host.strip()
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host.lower()


def _key_kind(key: object) -> str:
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}"
    return type(key).__name__.removeprefix("_").replace("PublicKey", "") or "an unknown key"


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
