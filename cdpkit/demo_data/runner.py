"""generate(): validate arguments, simulate people in ordered chunks, stream them to files."""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from cdpkit.demo_data.chunk import ChunkResult, ChunkTask, render_chunk
from cdpkit.demo_data.ids import MAX_PEOPLE
from cdpkit.demo_data.rows import TABLE_NAMES
from cdpkit.demo_data.schema import TABLES, TRUTH_COLUMNS, TRUTH_TABLE, arrow_schema
from cdpkit.demo_data.writers import CsvWriter, ParquetWriter, TableWriter
from cdpkit.errors import CdpkitError

CHUNK_PEOPLE: Final = 500
"""People per work unit; fixed, so output never depends on the number of workers."""
PARALLEL_FROM: Final = 20_000
"""Below this many people one process is faster than starting workers."""
FORMATS: Final = ("csv", "parquet")
MAX_EVENTS_SCALE: Final = 10.0


@dataclass(frozen=True)
class GenerationSummary:
    """What generate() wrote: rows per table (truth included), people, files, wall seconds."""

    rows: dict[str, int]
    people: int
    files: list[Path]
    seconds: float


def _check(customers: int, seed: int, fmt: str, events_scale: float, workers: int | None) -> None:
    if isinstance(customers, bool) or not isinstance(customers, int) or customers < 1:
        raise CdpkitError(f"customers must be a whole number of at least 1 (got {customers!r})")
    if customers > MAX_PEOPLE:
        raise CdpkitError(f"customers can be at most {MAX_PEOPLE:,} (got {customers:,})")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise CdpkitError(f"seed must be a whole number (got {seed!r})")
    if fmt not in FORMATS:
        raise CdpkitError(f"unknown format {fmt!r}: use csv or parquet")
    if not 0 < events_scale <= MAX_EVENTS_SCALE:
        raise CdpkitError(f"events_scale must be in (0, {MAX_EVENTS_SCALE:g}] (got {events_scale})")
    if workers is not None and workers < 1:
        raise CdpkitError(f"workers must be at least 1 (got {workers})")


def _prepare_dir(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise CdpkitError(f"output path {out_dir} exists and is not a directory")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CdpkitError(f"cannot create output directory {out_dir}: {exc.strerror}") from exc
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise CdpkitError(f"output directory {out_dir} is not writable")


def _open_writers(out_dir: Path, fmt: str) -> dict[str, TableWriter]:
    writers: dict[str, TableWriter] = {}
    try:
        for name in TABLE_NAMES:
            path = out_dir / f"{name}.{fmt}"
            if fmt == "csv":
                writers[name] = CsvWriter(path, TABLES[name])
            else:
                writers[name] = ParquetWriter(path, arrow_schema(name))
        writers[TRUTH_TABLE] = CsvWriter(out_dir / f"{TRUTH_TABLE}.csv", TRUTH_COLUMNS)
    except OSError as exc:
        for writer in writers.values():
            writer.abort()
        raise CdpkitError(f"cannot write to {out_dir}: {exc.strerror or exc}") from exc
    return writers


def _tasks(customers: int, seed: int, fmt: str, scale: float) -> Iterator[ChunkTask]:
    kind: Literal["csv", "parquet"] = "csv" if fmt == "csv" else "parquet"
    for start in range(0, customers, CHUNK_PEOPLE):
        yield ChunkTask(seed, start, min(start + CHUNK_PEOPLE, customers), kind, scale)


def _pool_context() -> multiprocessing.context.BaseContext:
    """fork where it is safe (Linux): workers never re-import the caller's __main__ script."""
    if sys.platform == "linux":
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


@contextmanager
def _worker_pool(workers: int) -> Iterator[ProcessPoolExecutor | None]:
    """Started worker processes (None for one), shut down with pending work cancelled."""
    if workers == 1:
        yield None
        return
    pool = ProcessPoolExecutor(workers, mp_context=_pool_context())
    try:
        pool.submit(int).result()  # fork now, before output files (and their buffers) exist
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _results(
    tasks: Iterator[ChunkTask], pool: ProcessPoolExecutor | None, workers: int
) -> Iterator[ChunkResult]:
    """Chunk results in task order, at most 2 per worker in flight (bounded memory).

    A worker that dies raises BrokenProcessPool here instead of hanging the run.
    """
    if pool is None:
        yield from map(render_chunk, tasks)
        return
    pending: deque[Future[ChunkResult]] = deque()
    for task in tasks:
        pending.append(pool.submit(render_chunk, task))
        if len(pending) >= 2 * workers:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def default_workers(customers: int) -> int:
    """One process for small sets or without fork; otherwise up to two (CPU-bound work)."""
    if customers < PARALLEL_FROM or sys.platform != "linux":
        return 1
    return max(1, min(2, os.cpu_count() or 1))


def generate(
    customers: int,
    seed: int,
    out_dir: Path,
    fmt: Literal["csv", "parquet"] = "csv",
    progress: Callable[[int], None] | None = None,
    *,
    events_scale: float = 1.0,
    workers: int | None = None,
) -> GenerationSummary:
    """Write the six raw tables and truth.csv for `customers` people; same arguments, same bytes.

    `progress` is called with the number of people written so far after each chunk.
    `events_scale` multiplies the sessions per person (1.0: about 30 events per person).
    `workers` processes simulate chunks of people in parallel (default: 2 from 20,000 people
    on Linux, else 1); the bytes written never depend on it.
    """
    _check(customers, seed, fmt, events_scale, workers)
    out_dir = Path(out_dir)
    _prepare_dir(out_dir)
    began = time.perf_counter()
    n_workers = workers or default_workers(customers)
    totals = dict.fromkeys([*TABLE_NAMES, TRUTH_TABLE], 0)
    done = 0
    with _worker_pool(n_workers) as pool:
        writers = _open_writers(out_dir, fmt)
        try:
            tasks = _tasks(customers, seed, fmt, events_scale)
            for result in _results(tasks, pool, n_workers):
                for name, payload in result.tables.items():
                    writers[name].write(payload)
                writers[TRUTH_TABLE].write(result.truth)
                for name, count in result.counts.items():
                    totals[name] += count
                done += result.people
                if progress is not None:
                    progress(done)
            for writer in writers.values():
                writer.close()
        except BaseException as exc:
            for writer in writers.values():
                writer.abort()
            if isinstance(exc, OSError):
                raise CdpkitError(f"cannot write to {out_dir}: {exc.strerror or exc}") from exc
            raise
    return GenerationSummary(
        rows=totals,
        people=customers,
        files=[w.path for w in writers.values()],
        seconds=time.perf_counter() - began,
    )
