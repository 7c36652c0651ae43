"""A bound table as a component sees it: a :class:`Table` whose columns are read on first use.

What streams and what loads whole:

* ``ids`` reads the id column alone, batch by batch; ``id_keys()`` the same as UTF-8 bytes, a
  quarter of the memory (what PSI holds);
* ``label`` reads the label column alone;
* ``take(rows)`` streams every column once and keeps only the rows asked for (PSI's output);
* ``features`` loads the feature matrix whole (the LR and stats components need it in memory).

A task reads a source several times (ids, then the rows it keeps), so the source must not change
in between: the binding's fingerprint is checked when the task starts, and ``take`` checks that
the ids it meets are the ids it read first.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from silobridge.errors import InvalidInput, RetryableError
from silobridge.sources.base import BATCH_ROWS, Source
from silobridge.table import Table


def _strings(col: pa.Array | pa.ChunkedArray) -> np.ndarray:
    if col.null_count:
        raise InvalidInput("the id column has empty (NULL) values")
    return np.asarray(pc.cast(col, pa.string()).to_numpy(zero_copy_only=False), dtype=str)


def _utf8(col: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The ids as UTF-8 bytes, fixed width: equal to ``np.char.encode(_strings(col), "utf-8")``."""
    if col.null_count:
        raise InvalidInput("the id column has empty (NULL) values")
    values = pc.cast(pc.cast(col, pa.string()), pa.binary()).to_numpy(zero_copy_only=False)
    return np.asarray(values, dtype="S") if len(values) else np.array([], dtype="S1")


def _floats(col: pa.Array | pa.ChunkedArray, name: str) -> np.ndarray:
    if col.null_count:
        raise InvalidInput(f"column {name!r} has {col.null_count} empty (NULL) values")
    out = np.asarray(pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
    if not np.isfinite(out).all():
        raise InvalidInput(f"column {name!r} has a non-finite value")
    return out


class SourceTable(Table):
    """Not a dataclass instance of its own: ``ids``/``features``/``label`` appear when first read."""

    def __init__(
        self,
        source: Source,
        *,
        ref: tuple[str, str],
        id_name: str,
        label_name: str,
        feature_names: list[str],
        rows: int,
        batch_rows: int = BATCH_ROWS,
    ) -> None:
        self.source, self.ref, self.batch_rows = source, ref, batch_rows
        self.id_name, self.label_name = id_name, label_name
        self.feature_names = list(feature_names)
        self.meta: dict[str, str] = {}
        self._rows = rows
        self._label: np.ndarray | None = None
        self._label_read = False
        self._keys: np.ndarray | None = None

    def __repr__(self) -> str:
        return f"SourceTable({self.ref[0]}.{self.ref[1]}, rows={self._rows})"

    @property
    def rows(self) -> int:
        return self._rows

    @property  # type: ignore[override]
    def label(self) -> np.ndarray | None:
        """The label column alone (Table's class default None would hide a lazy attribute)."""
        if not self._label_read:
            if self.label_name:
                parts = [_floats(b.column(0), self.label_name) for b in self._batches([self.label_name])]
                self._label = np.concatenate(parts) if parts else np.array([], np.float64)
                self._check_rows(len(self._label))
            self._label_read = True
        return self._label

    @label.setter
    def label(self, value: np.ndarray | None) -> None:
        self._label, self._label_read = value, True

    @property
    def has_label(self) -> bool:
        return self._label is not None if self._label_read else bool(self.label_name)

    def id_keys(self) -> np.ndarray:
        """The id column alone as UTF-8 bytes (``S`` array), batch by batch: what PSI holds of a
        bound table. 15-character ids take 15 bytes each here, 60 as ``ids``."""
        if self._keys is None:
            # Filled in place (rows are known; the width grows with the longest id met so far).
            keys, got = np.empty(self._rows, dtype="S1"), 0
            for batch in self._batches([self.id_name]):
                part = _utf8(batch.column(0))
                if got + len(part) <= self._rows:
                    if part.dtype.itemsize > keys.dtype.itemsize:
                        keys = keys.astype(part.dtype)
                    keys[got : got + len(part)] = part
                got += len(part)
            self._check_rows(got)
            self._keys = keys
        return self._keys

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: the column has not been read yet.
        if name == "ids":
            ids = np.concatenate(
                [_strings(b.column(0)) for b in self._batches([self.id_name])] or [np.array([], str)]
            )
            self._check_rows(len(ids))
            self.ids = ids
            return ids
        if name == "features":
            whole = self.take(np.arange(self._rows))
            self.features = whole.features
            return whole.features
        raise AttributeError(name)

    def _batches(self, columns: list[str]) -> Iterator[pa.RecordBatch]:
        return self.source.batches(columns, self.batch_rows)

    def _check_rows(self, got: int) -> None:
        if got != self._rows:
            raise RetryableError(
                f"table {self.ref[0]}.{self.ref[1]} changed while it was read ({got} rows, {self._rows} when bound)"
            )

    def take(self, index: np.ndarray | list[int]) -> Table:
        """The rows at ``index`` (in that order), reading the source once and keeping only them."""
        idx = np.asarray(index, dtype=np.int64)
        if len(idx) and (idx.min() < 0 or idx.max() >= self._rows):
            raise InvalidInput(
                f"row positions outside table {self.ref[0]}.{self.ref[1]} of {self._rows} rows"
            )
        wanted = np.sort(np.unique(idx))
        names = self.feature_names
        cols = [self.id_name, *names] + ([self.label_name] if self.label_name else [])
        # Filled in place, batch by batch: the kept rows are held once, never as parts + a copy.
        features = np.empty((len(wanted), len(names)), dtype=np.float64)
        label = np.empty(len(wanted), dtype=np.float64)
        ids: list[np.ndarray] = []
        start = kept = 0
        for batch in self._batches(cols):
            end = start + batch.num_rows
            lo, hi = np.searchsorted(wanted, [start, end])
            if hi > lo:
                part = batch.take(pa.array(wanted[lo:hi] - start))
                ids.append(_strings(part.column(0)))
                for j, n in enumerate(names):
                    features[kept : kept + hi - lo, j] = _floats(part.column(1 + j), n)
                if self.label_name:
                    label[kept : kept + hi - lo] = _floats(part.column(len(cols) - 1), self.label_name)
                kept += hi - lo
            start = end
        self._check_rows(start)
        got_ids = np.concatenate(ids) if ids else np.array([], str)
        if ("ids" in self.__dict__ and not np.array_equal(got_ids, self.ids[wanted])) or (
            self._keys is not None
            and len(wanted)
            and not np.array_equal(np.char.encode(got_ids, "utf-8"), self._keys[wanted])
        ):
            raise RetryableError(f"table {self.ref[0]}.{self.ref[1]} changed while it was read")
        if not np.array_equal(idx, wanted):  # rows asked for in another order (or repeated)
            order = np.searchsorted(wanted, idx)
            got_ids, features, label = got_ids[order], features[order], label[order]
        return Table(
            ids=got_ids,
            features=features,
            feature_names=list(names),
            label=label if self.label_name else None,
            id_name=self.id_name,
            label_name=self.label_name,
        )
