"""The router's TLS material: its certificate, key and CA bundle, checked against this party's id.

Loaded at start, and again whenever the files change (:class:`TlsFiles`, polled by the router, or
SIGHUP): a certificate rotation needs no restart. New material is used only as a whole and only
when it is consistent (the certificate names this party, the key belongs to it, a CA of the
bundle issued it), so a rotation caught half-written (new key, old certificate) is refused and
the material in force stays until the files are consistent again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from rollsite_router.filewatch import FileWatch
from silobridge.config import SettingsError
from silobridge.errors import InvalidInput
from silobridge.pki import identity_from_cert, peer_certificate

log = logging.getLogger(__name__)


@dataclass(frozen=True, repr=False)
class TlsMaterial:
    """PEM bytes of the CA, this router's certificate and key (repr hides the key)."""

    ca: bytes
    cert: bytes
    key: bytes

    def __repr__(self) -> str:
        return "TlsMaterial(<pem>)"


def load_tls(ca: Path, cert: Path, key: Path, *, party_id: int) -> TlsMaterial:
    """Read the three files; refuse a certificate that names another party than ``party_id``,
    a key that is not the certificate's, or a certificate that no CA of the bundle issued."""
    blobs = []
    for what, path in (("CA certificate", ca), ("certificate", cert), ("private key", key)):
        try:
            blobs.append(Path(path).read_bytes())
        except OSError as exc:
            raise SettingsError(
                f"router {what} {path}: cannot read ({exc.strerror}); create it with `silobridge pki`"
            ) from None
    try:
        own = identity_from_cert(blobs[1])
    except InvalidInput as exc:
        raise SettingsError(f"router certificate {cert}: {exc}") from None
    if own != party_id:
        raise SettingsError(f"router certificate {cert} identifies party {own}, but this is party {party_id}")
    _check_pair(blobs[0], blobs[1], blobs[2], ca=ca, cert=cert, key=key)
    return TlsMaterial(ca=blobs[0], cert=blobs[1], key=blobs[2])


def _check_pair(ca_pem: bytes, cert_pem: bytes, key_pem: bytes, *, ca: Path, cert: Path, key: Path) -> None:
    try:
        own = x509.load_pem_x509_certificate(cert_pem)
    except ValueError as exc:
        raise SettingsError(f"router certificate {cert}: not a PEM certificate ({exc})") from None
    try:
        private = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise SettingsError(f"router private key {key}: not an unencrypted PEM key ({exc})") from None
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if private.public_key().public_bytes(*spki) != own.public_key().public_bytes(*spki):
        raise SettingsError(
            f"router private key {key} does not belong to the certificate {cert} "
            "(a rotation written half way? both files must be replaced)"
        )
    try:
        authorities = x509.load_pem_x509_certificates(ca_pem)
    except ValueError as exc:
        raise SettingsError(f"router CA certificate {ca}: not PEM certificates ({exc})") from None
    if not any(_issued_by(own, authority) for authority in authorities):
        raise SettingsError(
            f"router certificate {cert} was not issued by a CA in {ca}: peers would refuse it"
        )


def _issued_by(cert: x509.Certificate, authority: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(authority)
    except (InvalidSignature, ValueError, TypeError):  # not its signature, or another issuer / key type
        return False
    return True


class TlsFiles:
    """The files of this router's TLS material and the material in force, re-read on change."""

    def __init__(self, ca: Path, cert: Path, key: Path, *, party_id: int) -> None:
        self.ca, self.cert, self.key, self.party_id = Path(ca), Path(cert), Path(key), party_id
        self._watch = FileWatch((self.ca, self.cert, self.key))
        self.material = load_tls(self.ca, self.cert, self.key, party_id=party_id)

    def changed(self) -> bool:
        """Whether the files changed since last asked (a broken change is reported once)."""
        return self._watch.changed()

    def reload(self) -> bool:
        """Read the files again: True when new material is now in force (the router's next
        connection in each direction uses it), False when they hold the material already in force.
        Raises SettingsError, and the old material stays, when they are unusable."""
        material = load_tls(self.ca, self.cert, self.key, party_id=self.party_id)
        if material == self.material:
            return False
        self.material = material
        cert = peer_certificate(material.cert)
        log.info(
            "TLS material reloaded from %s: certificate serial %x (sha256 %s) for new connections",
            self.cert,
            cert.serial,
            cert.sha256,
            extra={"event": "tls_reloaded"},
        )
        return True
