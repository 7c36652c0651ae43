"""Tells a polling loop when files it depends on changed, cheaply and without false alarms.

Each poll stats the files first (modification time, size, inode: a Kubernetes ConfigMap update
swaps a symlink, which changes the inode of what the path resolves to); only when a stat differs
are the files read and hashed, and only a different content hash counts as a change, so a
``touch`` or a rewrite with the same bytes reloads nothing. A change is reported once: a caller
that refuses a broken file is not told about the same broken file again at every poll, only
when it changes once more.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

#: (mtime_ns, size, inode) of one file, or None when it cannot be stat'ed (missing).
Stamp = tuple[int, int, int] | None


class FileWatch:
    """Change detection for a fixed set of files (a missing file is a state like any other)."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self.paths = tuple(Path(p) for p in paths)
        self._stamps = self._stat()
        self._digest = self._hash()

    def changed(self) -> bool:
        """True once per change of content since the last call (or since construction)."""
        stamps = self._stat()
        if stamps == self._stamps:
            return False
        self._stamps = stamps
        digest = self._hash()
        if digest == self._digest:
            return False
        self._digest = digest
        return True

    def _stat(self) -> tuple[Stamp, ...]:
        return tuple(_stamp(p) for p in self.paths)

    def _hash(self) -> bytes:
        h = hashlib.sha256()
        for path in self.paths:
            try:
                data = path.read_bytes()
            except OSError:
                h.update(b"-")
                continue
            h.update(b"+" + len(data).to_bytes(8, "big"))
            h.update(data)
        return h.digest()


def _stamp(path: Path) -> Stamp:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)
