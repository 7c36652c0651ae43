"""The router's TLS material, loaded once at start and checked against this party's id."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from silobridge.config import SettingsError
from silobridge.errors import InvalidInput
from silobridge.pki import identity_from_cert


@dataclass(frozen=True, repr=False)
class TlsMaterial:
    """PEM bytes of the CA, this router's certificate and key (repr hides the key)."""

    ca: bytes
    cert: bytes
    key: bytes

    def __repr__(self) -> str:
        return "TlsMaterial(<pem>)"


def load_tls(ca: Path, cert: Path, key: Path, *, party_id: int) -> TlsMaterial:
    """Read the three files; refuse a certificate that names another party than ``party_id``."""
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
    return TlsMaterial(ca=blobs[0], cert=blobs[1], key=blobs[2])
