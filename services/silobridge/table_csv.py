"""CSV parsed as a stream of :class:`Table` batches, so an upload of any size is parsed in
bounded memory: a batch of rows, plus 16 bytes per row for the duplicate-id check.

Every error names the problem, the column and the CSV line (1 = the header). The caller stores
nothing unless the whole stream was read without an error.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import math
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np

from silobridge.errors import InvalidInput
from silobridge.table import Table

BATCH_ROWS = 16_384
_READ_BYTES = 1 << 18


def _lines(fh: BinaryIO) -> Iterator[str]:
    """Decoded text, line by line, with the decoding error placed on its line."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    line_no, tail = 1, ""
    while True:
        raw = fh.read(_READ_BYTES)
        try:
            text = tail + decoder.decode(raw, final=not raw)
        except UnicodeDecodeError:
            raise InvalidInput(f"CSV is not UTF-8 (on line {line_no + tail.count(chr(10))})") from None
        if not raw:
            if text:
                yield text
            return
        *lines, tail = text.split("\n")  # only "\n" ends a line (csv joins "\r\n" itself)
        line_no += len(lines)
        for line in lines:
            yield line + "\n"


def _number(text: str, column: str, line_no: int) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InvalidInput(f"column {column!r} is not numeric: {text[:32]!r} on CSV line {line_no}") from None
    if not math.isfinite(value):
        raise InvalidInput(f"column {column!r} has a non-finite value on CSV line {line_no}")
    return value


class _IdDigests:
    """Duplicate ids over the whole stream, 16 bytes per id (a 128-bit BLAKE2b digest: two
    different ids collide with a probability far below a disk error's)."""

    def __init__(self) -> None:
        self.parts: list[np.ndarray] = []

    def add(self, ids: list[str]) -> None:
        joined = b"".join(hashlib.blake2b(i.encode(), digest_size=16).digest() for i in ids)
        self.parts.append(np.frombuffer(joined, dtype="S16"))

    def has_duplicates(self) -> bool:
        if not self.parts:
            return False
        digests = np.sort(np.concatenate(self.parts))
        return bool((digests[1:] == digests[:-1]).any())


def csv_batches(
    fh: BinaryIO, *, id_column: str, label_column: str = "", batch_rows: int = 0
) -> Iterator[Table]:
    """The CSV's rows as tables of at most ``batch_rows`` rows; one id column, an optional label,
    every other column numeric (``batch_rows`` 0: ``BATCH_ROWS``). Raises :class:`InvalidInput` at the first problem; the last
    check (duplicate ids) runs after the last batch, so consume the whole stream before storing."""
    batch_rows = batch_rows or BATCH_ROWS
    reader = csv.reader(_lines(fh))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise InvalidInput("CSV is empty: no header row") from None
    except csv.Error as exc:
        raise InvalidInput(f"CSV line 1 is malformed: {exc}") from None
    if len(set(header)) != len(header):
        raise InvalidInput("CSV header has duplicate column names")
    if id_column not in header:
        raise InvalidInput(f"id column {id_column!r} not found in CSV header {header}")
    if label_column and label_column not in header:
        raise InvalidInput(f"label column {label_column!r} not found in CSV header {header}")
    id_i = header.index(id_column)
    label_i = header.index(label_column) if label_column else -1
    feat_cols = [i for i in range(len(header)) if i not in (id_i, label_i)]
    names = [header[i] for i in feat_cols]
    seen = _IdDigests()
    total = 0

    def batch(ids: list[str], rows: list[list[float]], labels: list[float]) -> Table:
        seen.add(ids)
        return Table(
            ids=np.asarray(ids, dtype=str),
            features=np.asarray(rows, dtype=np.float64).reshape(len(ids), len(feat_cols)),
            feature_names=names,
            label=np.asarray(labels, dtype=np.float64) if label_i >= 0 else None,
            id_name=id_column,
            label_name=label_column,
        )

    ids: list[str] = []
    rows: list[list[float]] = []
    labels: list[float] = []
    line_no = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise InvalidInput(f"CSV line {reader.line_num} is malformed: {exc}") from None
        line_no = reader.line_num
        if not row:
            continue
        if len(row) != len(header):
            raise InvalidInput(f"CSV line {line_no} has {len(row)} fields, the header has {len(header)}")
        ids.append(row[id_i].strip())
        rows.append([_number(row[i], header[i], line_no) for i in feat_cols])
        if label_i >= 0:
            labels.append(_number(row[label_i], header[label_i], line_no))
        if len(ids) >= batch_rows:
            total += len(ids)
            yield batch(ids, rows, labels)
            ids, rows, labels = [], [], []
    if ids:
        total += len(ids)
        yield batch(ids, rows, labels)
    if not total:
        raise InvalidInput("CSV has a header but no rows")
    if seen.has_duplicates():
        raise InvalidInput(f"id column {id_column!r} has duplicate values")
