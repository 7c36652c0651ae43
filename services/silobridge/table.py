"""A party-local table: ids, a float feature matrix and an optional label. Never leaves its party.

Stored as ``.npz`` with ``allow_pickle=False``; uploaded as CSV (parsed in
:mod:`silobridge.table_csv`, with errors that name the column and line).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from silobridge.errors import InvalidInput

MAX_CSV_BYTES = 256 * 1024 * 1024


@dataclass
class Table:
    ids: np.ndarray
    features: np.ndarray
    feature_names: list[str]
    label: np.ndarray | None = None
    id_name: str = "id"
    label_name: str = ""
    meta: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.ids = np.asarray(self.ids).astype(str)
        self.features = np.asarray(self.features, dtype=np.float64).reshape(len(self.ids), -1)
        if self.features.shape[1] != len(self.feature_names):
            raise InvalidInput(
                f"table has {self.features.shape[1]} feature columns but {len(self.feature_names)} names"
            )
        if self.label is not None:
            self.label = np.asarray(self.label, dtype=np.float64)
            if self.label.shape != (len(self.ids),):
                raise InvalidInput("label column length differs from the number of rows")

    @property
    def rows(self) -> int:
        return len(self.ids)

    @property
    def has_label(self) -> bool:
        """Whether the table carries a label column (a bound table answers without reading it)."""
        return self.label is not None

    def id_keys(self) -> np.ndarray:
        """The ids as UTF-8 bytes in a fixed-width ``S`` array: what PSI hashes, a quarter of
        ``ids``' memory for ASCII ids (numpy keeps ``U`` strings at 4 bytes a character)."""
        return np.char.encode(self.ids, "utf-8") if self.rows else np.array([], dtype="S1")

    def take(self, index: np.ndarray | list[int]) -> Table:
        idx = np.asarray(index, dtype=np.int64)
        return Table(
            ids=self.ids[idx],
            features=self.features[idx],
            feature_names=list(self.feature_names),
            label=None if self.label is None else self.label[idx],
            id_name=self.id_name,
            label_name=self.label_name,
            meta=dict(self.meta),
        )

    def split(self, parts: int) -> list[Table]:
        bounds = np.linspace(0, self.rows, max(1, parts) + 1).astype(int)
        return [self.take(np.arange(bounds[i], bounds[i + 1])) for i in range(len(bounds) - 1)]

    @staticmethod
    def concat(parts: list[Table]) -> Table:
        if not parts:
            raise InvalidInput("cannot concatenate zero table partitions")
        first = parts[0]
        labels = [p.label for p in parts]
        return Table(
            ids=np.concatenate([p.ids for p in parts]),
            features=np.concatenate([p.features for p in parts]),
            feature_names=list(first.feature_names),
            label=None if any(lab is None for lab in labels) else np.concatenate(labels),  # type: ignore[arg-type]
            id_name=first.id_name,
            label_name=first.label_name,
            meta=dict(first.meta),
        )

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        arrays: dict[str, np.ndarray] = {
            "ids": self.ids.astype(str),
            "features": self.features,
            "feature_names": np.asarray(self.feature_names, dtype=str),
            "names": np.asarray([self.id_name, self.label_name], dtype=str),
        }
        if self.label is not None:
            arrays["label"] = self.label
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)  # type: ignore[arg-type]
        tmp.replace(path)

    @staticmethod
    def load(path: Path) -> Table:
        with np.load(path, allow_pickle=False) as z:
            names = [str(x) for x in z["names"]]
            return Table(
                ids=z["ids"],
                features=z["features"],
                feature_names=[str(x) for x in z["feature_names"]],
                label=z["label"] if "label" in z.files else None,
                id_name=names[0],
                label_name=names[1],
            )

    @staticmethod
    def from_csv(data: bytes, *, id_column: str, label_column: str = "") -> Table:
        """Parse an uploaded CSV held in memory (a large upload is parsed from its spool file
        batch by batch: :func:`silobridge.table_csv.csv_batches`)."""
        from silobridge.table_csv import csv_batches

        if len(data) > MAX_CSV_BYTES:
            raise InvalidInput(f"CSV of {len(data)} bytes exceeds the upload limit of {MAX_CSV_BYTES} bytes")
        return Table.concat(
            list(csv_batches(io.BytesIO(data), id_column=id_column, label_column=label_column))
        )
