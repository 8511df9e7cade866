"""One batch of consecutive people rendered to file-ready payloads (runs in a worker process)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

from cdpkit.demo_data.render import table_batch, table_csv
from cdpkit.demo_data.rows import TABLE_NAMES, Rows
from cdpkit.demo_data.simulate import simulate_person


@dataclass(frozen=True)
class ChunkTask:
    """People [start, stop) of a data set; everything a worker needs, and picklable."""

    seed: int
    start: int
    stop: int
    fmt: Literal["csv", "parquet"]
    events_scale: float


@dataclass(frozen=True)
class ChunkResult:
    """Rendered tables of one batch: CSV bytes or Arrow batches, plus truth CSV bytes."""

    people: int
    counts: dict[str, int]
    tables: dict[str, bytes | pa.RecordBatch]
    truth: bytes


def render_chunk(task: ChunkTask) -> ChunkResult:
    """Simulate people start..stop-1 in order and render their rows."""
    rows = Rows()
    for index in range(task.start, task.stop):
        simulate_person(task.seed, index, task.events_scale, rows)
    tables: dict[str, bytes | pa.RecordBatch] = {}
    for name in TABLE_NAMES:
        buffered = rows.table(name)
        tables[name] = (
            table_csv(name, buffered) if task.fmt == "csv" else table_batch(name, buffered)
        )
    return ChunkResult(
        people=task.stop - task.start,
        counts=rows.counts(),
        tables=tables,
        truth=table_csv("truth", rows.truth),
    )
