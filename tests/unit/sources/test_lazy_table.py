"""SourceTable: ids stream alone in batches, take() keeps only the rows asked for, in order."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from silobridge.errors import RetryableError
from silobridge.sources.base import Probe, Source
from silobridge.sources.files import FileSource
from silobridge.sources.lazy import SourceTable


class Counting(Source):
    """Wraps a source and records the columns and sizes of every batch it yields."""

    def __init__(self, inner: Source) -> None:
        self.inner = inner
        self.seen: list[tuple[tuple[str, ...], int]] = []

    def probe(self) -> Probe:
        return self.inner.probe()

    def version(self) -> str:
        return self.inner.version()

    def batches(self, columns: list[str], batch_rows: int = 1000) -> Iterator[pa.RecordBatch]:
        for b in self.inner.batches(columns, batch_rows):
            self.seen.append((tuple(b.schema.names), b.num_rows))
            yield b


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "t"
    root.mkdir()
    for f in range(4):
        ids = np.arange(f * 250, (f + 1) * 250)
        pq.write_table(
            pa.table({"id": ids, "a": ids * 1.5, "b": -ids, "y": ids % 2}),
            root / f"p{f}.parquet",
        )
    (root / "_SUCCESS").write_text("")
    return root


def table(folder: Path, batch_rows: int = 64) -> tuple[SourceTable, Counting]:
    src = Counting(FileSource("parquet", folder, "id", [str(folder)]))
    return (
        SourceTable(
            src,
            ref=("n", "t"),
            id_name="id",
            label_name="y",
            feature_names=["a", "b"],
            rows=1000,
            batch_rows=batch_rows,
        ),
        src,
    )


def test_ids_stream_alone_in_bounded_batches(folder: Path) -> None:
    t, src = table(folder)
    assert list(t.ids[:3]) == ["0", "1", "2"] and len(t.ids) == 1000
    assert {cols for cols, _ in src.seen} == {("id",)}
    assert max(n for _, n in src.seen) <= 64
    assert "features" not in t.__dict__  # the features were never read


def test_id_keys_are_the_ids_as_utf8_bytes_and_streamed_alone(folder: Path) -> None:
    t, src = table(folder)
    keys = t.id_keys()
    assert keys.dtype == np.dtype("S3") and keys.nbytes == 3000  # 3 bytes an id; ids would take 12
    np.testing.assert_array_equal(keys, np.char.encode(table(folder)[0].ids, "utf-8"))
    assert {cols for cols, _ in src.seen} == {("id",)} and "ids" not in t.__dict__
    assert list(t.take([999, 3]).ids) == ["999", "3"]  # checked against the keys read first


def test_has_label_reads_nothing(folder: Path) -> None:
    t, src = table(folder)
    assert t.has_label and src.seen == []  # the reader's check of a bound table costs no read
    t.label = None
    assert not t.has_label


def test_take_keeps_the_rows_asked_for_in_their_order(folder: Path) -> None:
    t, src = table(folder)
    idx = np.array([999, 3, 500, 0, 251])
    part = t.take(idx)
    assert list(part.ids) == ["999", "3", "500", "0", "251"]
    np.testing.assert_array_equal(part.features, np.column_stack([idx * 1.5, -idx]))
    np.testing.assert_array_equal(part.label, idx % 2)
    assert max(n for _, n in src.seen) <= 64


def test_label_and_whole_features(folder: Path) -> None:
    t, _ = table(folder, batch_rows=1000)
    np.testing.assert_array_equal(t.label, np.arange(1000) % 2)
    assert t.features.shape == (1000, 2)


def test_a_source_that_shrinks_while_read_is_refused(folder: Path) -> None:
    t, _ = table(folder)
    (folder / "p3.parquet").unlink()
    with pytest.raises(RetryableError, match="changed while it was read"):
        _ = t.ids
    with pytest.raises(RetryableError, match="changed while it was read"):
        t.id_keys()
