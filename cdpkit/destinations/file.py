"""`type: file`: each run's changes as CSV, JSONL or Parquet files in a directory.

Layout (every file written to a temporary name, fsynced, then renamed: readers never see a
partial file, and a confirmed batch is on disk before the engine records it as synced):

    <directory>/<sync name>/<run id>/part-<first seq>-<upsert|remove>.<csv|jsonl|parquet>
    <directory>/<sync name>/<run id>/_manifest.json     (written when the run ends)

A run with nothing to send writes nothing.

Columns: `change` (add / update / remove), `key`, then the mapped fields in mapping order
(for removals, the values last exported).
A batch re-sent after a crash lands in the next run's directory; apply changes by `key`.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from cdpkit.destinations.base import Batch, BatchResult, Destination, RunSummary, jsonable
from cdpkit.destinations.errors import TerminalError
from cdpkit.sync.config import DestinationConfig
from cdpkit.sync.envref import EnvText, Text

Format = Literal["csv", "jsonl", "parquet"]


class FileConfig(DestinationConfig):
    """Files in a local (or mounted) directory; relative paths start at the project root."""

    type: Literal["file"]
    directory: Text = Field(default_factory=lambda: EnvText("exports"))
    format: Format = "jsonl"


class FileDestination(Destination):
    type = "file"
    config_model = FileConfig
    description = "CSV / JSONL / Parquet files of each run's changes, written atomically"
    max_batch_size = 100_000
    default_batch_size = 50_000
    rate_limit = None
    max_concurrency = 2
    uses_http = False
    removals_with_fields = True  # removal rows show the values last exported

    config: FileConfig

    def account_key(self) -> str:
        return f"file:{self._root()}"

    def check(self) -> None:
        root = self._root()
        try:
            root.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=root, prefix=".cdpkit-check-"):
                pass
        except OSError as exc:
            raise TerminalError(f"cannot write to {root}: {exc.strerror or exc}") from None

    def upsert(self, batch: Batch) -> BatchResult:
        self._write(batch)
        return BatchResult.ok()

    def remove(self, batch: Batch) -> BatchResult:
        self._write(batch)
        return BatchResult.ok()

    def close(self, summary: RunSummary) -> None:
        run_dir = self._run_dir()
        if not run_dir.exists():
            return
        parts = sorted(p.name for p in run_dir.iterdir() if p.name.startswith("part-"))
        manifest = {
            "sync": self.sync.sync_id,
            "run_id": self.sync.run_id,
            "status": summary.status,
            "confirmed": summary.confirmed,
            "rejected": summary.rejected,
            "format": self.config.format,
            "files": parts,
        }
        _atomic_write(run_dir / "_manifest.json", json.dumps(manifest, indent=2).encode())

    # -- internals ---------------------------------------------------------------------------
    def _root(self) -> Path:
        path = Path(self.config.directory.resolve())
        return path if path.is_absolute() else self.sync.project_root / path

    def _run_dir(self) -> Path:
        return self._root() / self.sync.sync_name / self.sync.run_id

    def _write(self, batch: Batch) -> None:
        if not batch.records:
            return
        first = batch.records[0].seq
        name = f"part-{first:09d}-{batch.operation}.{self.config.format}"
        columns = ["change", "key", *self.sync.fields]
        rows = [
            {"change": r.change, "key": r.key, **{f: r.fields.get(f) for f in self.sync.fields}}
            for r in batch.records
        ]
        try:
            self._run_dir().mkdir(parents=True, exist_ok=True)
            _atomic_write(self._run_dir() / name, encode(rows, columns, self.config.format))
        except OSError as exc:
            raise TerminalError(f"cannot write {name}: {exc.strerror or exc}") from None


def encode(rows: list[dict[str, Any]], columns: list[str], fmt: str) -> bytes:
    """Rows as the bytes of one CSV / JSONL / Parquet file."""
    if fmt == "jsonl":
        lines = [
            json.dumps({c: jsonable(row.get(c)) for c in columns}, ensure_ascii=False)
            for row in rows
        ]
        return ("\n".join(lines) + "\n").encode("utf-8")
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: _csv_value(row.get(c)) for c in columns})
        return buffer.getvalue().encode("utf-8")
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pylist(
            [{c: jsonable(row.get(c)) for c in columns} for row in rows],
            schema=None,
        ).select(columns)
        sink = io.BytesIO()
        pq.write_table(table, sink)
        return sink.getvalue()
    raise TerminalError(f"unknown file format '{fmt}'")


def _csv_value(value: Any) -> Any:
    value = jsonable(value)
    if isinstance(value, list | dict):
        return json.dumps(value)
    return value


def _atomic_write(path: Path, content: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
