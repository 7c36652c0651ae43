"""Spooled CSV uploads: pieces from flow appended to ``<data_dir>/uploads/<upload_id>.part``.

Pieces arrive in order, each acknowledged before the next, so a piece either extends the file
exactly where it ends, repeats what is already there (a redelivery: acknowledged again), or is a
gap (refused). A spool is removed when its table is stored, refused or aborted, and every spool
left over is removed when the node-manager starts.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from silobridge.bus.base import check_word
from silobridge.errors import InvalidInput, NotFound, PayloadTooLarge


class UploadSpool:
    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root, self.max_bytes = root, max_bytes

    def clear(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def path(self, upload_id: str) -> Path:
        return self.root / f"{check_word(upload_id, 'upload id')}.part"

    def append(self, upload_id: str, offset: int, data: bytes) -> int:
        """Add one piece; returns the spool's size."""
        path = self.path(upload_id)
        size = path.stat().st_size if path.exists() else 0
        if offset + len(data) <= size:
            return size  # already have it (redelivered)
        if offset != size:
            raise InvalidInput(f"upload {upload_id}: piece at byte {offset}, but {size} bytes arrived so far")
        if size + len(data) > self.max_bytes:
            self.drop(upload_id)
            raise PayloadTooLarge(f"upload {upload_id} exceeds {self.max_bytes} bytes")
        self.root.mkdir(parents=True, exist_ok=True)
        with path.open("ab") as fh:
            fh.write(data)
        return size + len(data)

    def existing(self, upload_id: str) -> Path:
        """The spool file (parsed from disk batch by batch, never read whole)."""
        path = self.path(upload_id)
        if not path.exists():
            raise NotFound(f"upload {upload_id} has no pieces at this node")
        return path

    def drop(self, upload_id: str) -> None:
        self.path(upload_id).unlink(missing_ok=True)
