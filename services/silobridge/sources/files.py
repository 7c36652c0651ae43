"""Parquet or CSV files, one file or a directory of them (recursively), read with pyarrow.

Files are read in the order of their relative paths; names starting with ``.`` or ``_`` (such as
``_SUCCESS``) are skipped. Each file is one partition. The fingerprint covers every file's
relative path, size and modification time, so adding, removing or rewriting a file changes it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from silobridge.errors import InvalidInput, NotFound
from silobridge.sources.access import check_inside
from silobridge.sources.base import BATCH_ROWS, Probe, Source

MAX_FILES = 100_000
SUFFIX = {"parquet": (".parquet", ".parq"), "csv": (".csv",)}


def _visible(path: Path, root: Path) -> bool:
    return not any(part.startswith((".", "_")) for part in path.relative_to(root).parts)


class FileSource(Source):
    def __init__(self, kind: str, location: Path, id_column: str, allow: list[str]) -> None:
        self.kind, self.location, self.id_column, self.allow = kind, location, id_column, allow

    def files(self) -> list[Path]:
        root = self.location
        if root.is_file():
            return [root]
        if not root.is_dir():
            raise NotFound(f"{self.kind} source {root} does not exist")
        found = sorted(
            p for p in root.rglob("*") if p.is_file() and p.suffix in SUFFIX[self.kind] and _visible(p, root)
        )
        if len(found) > MAX_FILES:
            raise InvalidInput(f"{root} holds {len(found)} {self.kind} files; at most {MAX_FILES}")
        for f in found:
            check_inside(f, self.allow)
        if not found:
            raise InvalidInput(f"{root} holds no {self.kind} files ({', '.join(SUFFIX[self.kind])})")
        return found

    def _dataset(self, files: list[Path]) -> ds.Dataset:
        if self.kind == "parquet":
            return ds.dataset([str(f) for f in files], format="parquet")
        # Ids stay text exactly as written ("007" is not the number 7).
        convert = pacsv.ConvertOptions(column_types={self.id_column: pa.string()})
        return ds.dataset([str(f) for f in files], format=ds.CsvFileFormat(convert_options=convert))

    def probe(self) -> Probe:
        files = self.files()
        dataset = self._dataset(files)
        try:
            rows = [frag.count_rows() for frag in dataset.get_fragments()]
        except (pa.ArrowInvalid, OSError) as exc:
            raise InvalidInput(f"{self.kind} source {self.location} cannot be read: {exc}") from None
        return Probe(schema=dataset.schema, partition_rows=rows, version=self._fingerprint(files))

    def version(self) -> str:
        return self._fingerprint(self.files())

    def _fingerprint(self, files: list[Path]) -> str:
        h = hashlib.blake2b(digest_size=16)
        base = self.location if self.location.is_dir() else self.location.parent
        for f in files:
            st = f.stat()
            h.update(f"{f.relative_to(base)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        return f"files:{len(files)}:{h.hexdigest()}"

    def batches(self, columns: list[str], batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
        files = self.files()
        try:
            if self.kind == "parquet":
                # Unbuffered, one row group decoded at a time: memory follows the row group, not the file.
                for f in files:
                    with pq.ParquetFile(f, pre_buffer=False, buffer_size=1 << 20) as pf:
                        yield from pf.iter_batches(batch_size=batch_rows, columns=columns, use_threads=False)
                return
            for frag in self._dataset(files).get_fragments():
                yield from frag.to_batches(
                    columns=columns,
                    batch_size=batch_rows,
                    batch_readahead=1,
                    fragment_readahead=1,
                    use_threads=False,
                )
        except pa.ArrowInvalid as exc:
            raise InvalidInput(f"{self.kind} source {self.location} cannot be read: {exc}") from None
