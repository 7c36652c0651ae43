"""Which key signs an outbound envelope: the key of the certificate its stream presented.

A receiving router verifies each envelope with the public key of the certificate on the mutual-TLS
stream it came in on. After a certificate rotation, streams opened before it still present the
old certificate until they reconnect, while new streams present the new one; so the signer is
chosen per stream, from the TLS material that stream was opened with, never from the newest files.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from rollsite_router.signing import Signer
from rollsite_router.tls import TlsMaterial
from silobridge.pki import peer_certificate

#: Certificates whose streams may still be open after rotations (each entry holds a parsed key).
CACHE = 4


@dataclass(frozen=True)
class SigningIdentity:
    signer: Signer
    #: SHA-256 of the DER certificate: the audit log names the certificate that signed.
    cert_sha256: str


class SigningKeys:
    """A small cache of signers by certificate (parsing a key for every message would be slow)."""

    def __init__(self) -> None:
        self._by_cert: OrderedDict[bytes, SigningIdentity] = OrderedDict()

    def identity(self, tls: TlsMaterial) -> SigningIdentity:
        found = self._by_cert.get(tls.cert)
        if found is not None:
            self._by_cert.move_to_end(tls.cert)
            return found
        found = SigningIdentity(Signer(tls.key), peer_certificate(tls.cert).sha256)
        self._by_cert[tls.cert] = found
        while len(self._by_cert) > CACHE:
            self._by_cert.popitem(last=False)
        return found
