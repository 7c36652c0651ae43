"""Table partitions on this node's disk: ``<data_dir>/tables/<namespace>/<name>/part-<i>.npz``.

A table is written into a staging folder and renamed into place, so a reader sees either the
whole old table or the whole new one, never a mix. Namespace and name are topic words
(``[A-Za-z0-9_-]``), so they can never climb out of the tables folder.
"""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from silobridge.bus.base import check_word
from silobridge.errors import InvalidInput, NotFound
from silobridge.table import Table

_PART = re.compile(r"^part-(\d+)\.npz$")
# A table streamed in (a large upload) gets more partitions than asked for when it must, so that
# storing it holds one partition of at most this many rows in memory, never the whole table.
MAX_PARTITION_ROWS = 1 << 18


class TableStorage:
    def __init__(self, root: Path) -> None:
        self.root = root

    def table_dir(self, namespace: str, name: str) -> Path:
        return self.root / check_word(namespace, "table namespace") / check_word(name, "table name")

    def exists(self, namespace: str, name: str) -> bool:
        return self.table_dir(namespace, name).is_dir()

    def stage(self, namespace: str, name: str, table: Table, partitions: int) -> tuple[Path, list[int]]:
        """Write the partitions into a staging folder; returns it and the rows of each partition."""
        final = self.table_dir(namespace, name)
        staging = final.parent / f".staging-{name}-{uuid.uuid4().hex[:8]}"
        staging.mkdir(parents=True)
        try:
            parts = table.split(max(1, min(partitions, table.rows)))
            for i, part in enumerate(parts):
                part.save(staging / f"part-{i}.npz")
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return staging, [p.rows for p in parts]

    def stage_batches(
        self, namespace: str, name: str, batches: Iterable[Table], partitions: int
    ) -> tuple[Path, list[int], Table]:
        """Like :meth:`stage` for a table that arrives in batches: each batch is spilled to the
        staging folder, then regrouped into ``partitions`` (more when a partition would pass
        ``MAX_PARTITION_ROWS``). Returns the folder, the rows of each partition and the first
        batch (the table's schema)."""
        final = self.table_dir(namespace, name)
        staging = final.parent / f".staging-{name}-{uuid.uuid4().hex[:8]}"
        staging.mkdir(parents=True)
        try:
            spilled: list[tuple[Path, int]] = []
            first: Table | None = None
            for k, part in enumerate(batches):
                first = first or part.take(np.arange(min(part.rows, 1)))
                spilled.append((staging / f"batch-{k}.npz", part.rows))
                part.save(spilled[-1][0])
            if first is None:
                raise InvalidInput(f"table {namespace}.{name} has no rows")
            rows = _regroup(staging, spilled, partitions)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return staging, rows, first

    def commit(self, staging: Path, namespace: str, name: str) -> None:
        """Swap a staged table into place (replacing an older version)."""
        final = self.table_dir(namespace, name)
        trash = final.parent / f".trash-{name}-{uuid.uuid4().hex[:8]}"
        if final.exists():
            final.rename(trash)
        staging.rename(final)
        shutil.rmtree(trash, ignore_errors=True)

    @staticmethod
    def discard(staging: Path) -> None:
        shutil.rmtree(staging, ignore_errors=True)

    def save(self, namespace: str, name: str, table: Table, partitions: int) -> list[int]:
        staging, rows = self.stage(namespace, name, table, partitions)
        self.commit(staging, namespace, name)
        return rows

    def load(self, namespace: str, name: str) -> Table:
        """Every local partition of the table, concatenated in partition order."""
        folder = self.table_dir(namespace, name)
        parts: list[tuple[int, Path]] = []
        if folder.is_dir():
            for path in folder.iterdir():
                m = _PART.match(path.name)
                if m:
                    parts.append((int(m.group(1)), path))
        if not parts:
            raise NotFound(f"table {namespace}.{name} has no partitions on this node")
        return Table.concat([Table.load(p) for _, p in sorted(parts)])

    def delete(self, namespace: str, name: str) -> bool:
        folder = self.table_dir(namespace, name)
        if not folder.is_dir():
            return False
        trash = folder.parent / f".trash-{name}-{uuid.uuid4().hex[:8]}"
        folder.rename(trash)
        shutil.rmtree(trash, ignore_errors=True)
        return True


def _regroup(folder: Path, spilled: list[tuple[Path, int]], partitions: int) -> list[int]:
    """Rewrite the spilled batches as evenly sized ``part-<i>.npz``; one batch and one partition
    in memory at a time."""
    total = sum(n for _, n in spilled)
    parts = max(1, min(partitions, total), -(-total // MAX_PARTITION_ROWS))
    bounds = np.linspace(0, total, parts + 1).astype(int)
    pending = iter(spilled)
    current: Table | None = None
    at = 0  # rows of ``current`` already taken
    for i in range(parts):
        pieces: list[Table] = []
        need = int(bounds[i + 1] - bounds[i])
        while need:
            if current is None or at == current.rows:
                path, _ = next(pending)
                current, at = Table.load(path), 0
                path.unlink()
            take = min(need, current.rows - at)
            pieces.append(current.take(np.arange(at, at + take)))
            at, need = at + take, need - take
        Table.concat(pieces).save(folder / f"part-{i}.npz")
    return [int(bounds[i + 1] - bounds[i]) for i in range(parts)]
