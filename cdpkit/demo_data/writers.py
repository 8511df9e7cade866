"""Streaming table files: append rendered chunks, publish atomically when everything is written."""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO, Final, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from cdpkit.demo_data.render import csv_header

PARTIAL: Final = ".partial"
"""Suffix of files being written; renamed into place only after a complete run."""
ROW_GROUP_ROWS: Final = 262_144
"""Parquet row groups are cut at chunk boundaries once this many rows are buffered."""
_BUFFER: Final = 1 << 20


class TableWriter(Protocol):
    """Where the rendered chunks of one table go."""

    path: Path

    def write(self, payload: bytes | pa.RecordBatch) -> None:
        """Append one chunk."""

    def close(self) -> None:
        """Flush and publish the file under its final name."""

    def abort(self) -> None:
        """Close and delete the partial file."""


class CsvWriter:
    """A CSV file written as header + chunk bytes through a 1 MiB buffer."""

    def __init__(self, path: Path, columns: tuple[str, ...]) -> None:
        self.path = path
        self._partial = path.with_name(path.name + PARTIAL)
        self._file: BinaryIO = open(self._partial, "wb", buffering=_BUFFER)  # noqa: SIM115
        self._file.write(csv_header(columns))

    def write(self, payload: bytes | pa.RecordBatch) -> None:
        assert isinstance(payload, bytes)
        self._file.write(payload)

    def close(self) -> None:
        self._file.close()
        os.replace(self._partial, self.path)

    def abort(self) -> None:
        self._file.close()
        self._partial.unlink(missing_ok=True)


class ParquetWriter:
    """A Parquet file written in row groups of about ROW_GROUP_ROWS rows (zstd)."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = path
        self._partial = path.with_name(path.name + PARTIAL)
        self._schema = schema
        self._writer = pq.ParquetWriter(self._partial, schema, compression="zstd")
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0

    def write(self, payload: bytes | pa.RecordBatch) -> None:
        assert isinstance(payload, pa.RecordBatch)
        self._pending.append(payload)
        self._pending_rows += payload.num_rows
        if self._pending_rows >= ROW_GROUP_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self._pending_rows:
            table = pa.Table.from_batches(self._pending, schema=self._schema)
            self._writer.write_table(table, row_group_size=self._pending_rows)
        self._pending, self._pending_rows = [], 0

    def close(self) -> None:
        self._flush()
        self._writer.close()
        os.replace(self._partial, self.path)

    def abort(self) -> None:
        self._pending = []
        self._writer.close()
        self._partial.unlink(missing_ok=True)
