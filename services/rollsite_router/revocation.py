"""The federation CA's revocation list (an X.509 CRL), checked on every inbound envelope.

The router reads ``ca.crl`` (``silobridge pki revoke`` writes it) at start and polls the file
while it runs (``crl_reload_interval_s``), so a revocation takes effect without a restart. A CRL
is used only if the CA's key signed it and the CA is its issuer. A file that is missing means no
certificate is revoked; a file that cannot be used is refused: at start the router does not
start, and while running the router keeps the list it had (it never forgets a revocation because
a new file is broken or gone) and logs an error. A CRL past its next-update time is still applied, with a
warning, since an old list still names every certificate it revoked.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from silobridge.config import SettingsError

log = logging.getLogger(__name__)

MAX_CRL_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class _FileStamp:
    mtime_ns: int
    size: int
    inode: int


class RevocationList:
    """Revoked certificate serials of one CA, reloaded when the CRL file changes."""

    def __init__(self, path: Path | None, ca_pem: bytes) -> None:
        self.path = path
        self._ca = x509.load_pem_x509_certificate(ca_pem)
        self._revoked: frozenset[int] = frozenset()
        self._stamp: _FileStamp | None = None
        self.next_update: datetime.datetime | None = None
        self.reload(initial=True)

    def is_revoked(self, serial: int) -> bool:
        return serial in self._revoked

    def __len__(self) -> int:
        return len(self._revoked)

    def reload(self, *, initial: bool = False) -> bool:
        """Read the file again if it changed; True when a new list is in force."""
        if self.path is None:
            return False
        stamp = _stamp(self.path)
        if stamp == self._stamp:
            return False
        if stamp is None:  # removed: a revocation is never undone by deleting the file
            if self._revoked:
                log.error("revocation list %s disappeared; keeping the %d revocations", self.path, len(self))
            self._stamp = None
            return False
        try:
            revoked, next_update = self._parse(self.path.read_bytes())
        except (OSError, ValueError) as exc:
            if initial:
                raise SettingsError(f"revocation list {self.path}: {exc}") from None
            log.error("revocation list %s refused, keeping the previous one: %s", self.path, exc)
            self._stamp = stamp  # do not retry the same broken file on every poll
            return False
        added = revoked - self._revoked
        self._revoked = revoked  # signed by the CA: authoritative, also where it lifts a revocation
        self._stamp, self.next_update = stamp, next_update
        log.info(
            "revocation list %s loaded: %d revoked certificates (%d new)",
            self.path,
            len(self._revoked),
            len(added),
            extra={"event": "crl_loaded"},
        )
        if next_update is not None and next_update < datetime.datetime.now(datetime.UTC):
            log.warning("revocation list %s is past its next update (%s); renew it", self.path, next_update)
        return True

    def _parse(self, data: bytes) -> tuple[frozenset[int], datetime.datetime | None]:
        if len(data) > MAX_CRL_BYTES:
            raise ValueError(f"{len(data)} bytes, over the limit of {MAX_CRL_BYTES}")
        crl = (
            x509.load_pem_x509_crl(data)
            if data.lstrip().startswith(b"-----BEGIN")
            else x509.load_der_x509_crl(data)
        )
        if crl.issuer != self._ca.subject:
            raise ValueError(f"issued by {crl.issuer.rfc4514_string()}, not by this federation's CA")
        if not crl.is_signature_valid(self._ca.public_key()):  # type: ignore[arg-type]
            raise ValueError("its signature does not verify against the CA certificate")
        return frozenset(r.serial_number for r in crl), crl.next_update_utc


def _stamp(path: Path) -> _FileStamp | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return _FileStamp(st.st_mtime_ns, st.st_size, st.st_ino)
