"""The scheduler's tables in the warehouse schema `cdpkit` (next to the sync engine's).

| table                   | one row per                                                  |
|-------------------------|--------------------------------------------------------------|
| `schedule_state`        | scheduled sync: the last schedule slot handled, its run and status |
| `scheduler_heartbeats`  | scheduler process: when it last beat, what it is doing, next due |

A slot counts as handled once a run for it finished (success, partial, deferred, failed,
blocked); a cancelled or interrupted run leaves it due, so the next start resumes it. A
deferred run (the destination's quota ran out) is resumed by the next slot, not retried in
this one: the quota would still be used up.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from cdpkit.errors import WarehouseError
from cdpkit.ops.cron import as_utc
from cdpkit.sync.sql import STATE_SCHEMA, Column, col, create_table, param, render, table
from cdpkit.sync.state import ensure_schema
from cdpkit.warehouse import Warehouse

TERMINAL = frozenset({"success", "partial", "deferred", "failed", "blocked"})

TABLES: dict[str, tuple[list[Column], list[str]]] = {
    "schedule_state": (
        [
            Column("sync_id", "text", True),
            Column("slot_at", "timestamp", True),
            Column("run_id", "text"),
            Column("status", "text", True),
            Column("error", "text"),
            Column("updated_at", "timestamp", True),
        ],
        ["sync_id"],
    ),
    "scheduler_heartbeats": (
        [
            Column("scheduler_id", "text", True),
            Column("host", "text", True),
            Column("pid", "bigint", True),
            Column("started_at", "timestamp", True),
            Column("beat_at", "timestamp", True),
            Column("interval_s", "double", True),
            Column("state", "text", True),
            Column("activity", "text"),
            Column("next_due_at", "timestamp"),
        ],
        ["scheduler_id"],
    ),
}
_ensured: set[tuple[int, str]] = set()


@dataclass(frozen=True)
class SlotState:
    sync_id: str
    slot_at: dt.datetime  # aware UTC
    run_id: str | None
    status: str
    error: str | None
    updated_at: dt.datetime

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL


def ensure_tables(wh: Warehouse, attempts: int = 5) -> None:
    """The sync engine's tables plus the scheduler's (created on first use).

    Two processes starting together may race to create them (a write-write conflict on
    DuckDB, a duplicate type on PostgreSQL); creating is idempotent, so retry.
    """
    for attempt in range(attempts):
        try:
            _ensure(wh)
            return
        except WarehouseError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1) + random.random() * 0.05)


def _ensure(wh: Warehouse) -> None:
    ensure_schema(wh)
    marker = (id(wh), wh.location)
    if marker in _ensured:
        return
    for name, (columns, key) in TABLES.items():
        if wh.table_columns(name, STATE_SCHEMA) is None:
            wh.execute(render(create_table(name, columns, key), wh.dialect))
    _ensured.add(marker)


def naive(value: dt.datetime) -> dt.datetime:
    """How cdpkit tables store time: naive UTC."""
    return as_utc(value).replace(tzinfo=None)


def read_slots(wh: Warehouse, sync_ids: list[str] | None = None) -> dict[str, SlotState]:
    names = [c.name for c in TABLES["schedule_state"][0]]
    query = exp.select(*[col(n) for n in names]).from_(table("schedule_state"))
    params: list[Any] = []
    if sync_ids is not None:
        if not sync_ids:
            return {}
        query = query.where(col("sync_id").isin(*[param() for _ in sync_ids]))
        params = list(sync_ids)
    out: dict[str, SlotState] = {}
    for row in wh.fetchall(render(query, wh.dialect), params):
        values = dict(zip(names, row, strict=True))
        values["slot_at"] = as_utc(values["slot_at"])
        values["updated_at"] = as_utc(values["updated_at"])
        out[values["sync_id"]] = SlotState(**values)
    return out


def write_slot(
    wh: Warehouse,
    sync_id: str,
    slot_at: dt.datetime,
    *,
    run_id: str | None,
    status: str,
    error: str | None,
    now: dt.datetime,
) -> None:
    """Replace the sync's slot state (delete + insert in one transaction: portable upsert)."""
    delete = exp.delete(table("schedule_state"), where=col("sync_id").eq(param()))
    names = ["sync_id", "slot_at", "run_id", "status", "error", "updated_at"]
    insert = exp.insert(
        exp.select(*[param() for _ in names]),
        table("schedule_state"),
        columns=[exp.to_identifier(n, quoted=True) for n in names],
    )
    with wh.transaction():
        wh.execute(render(delete, wh.dialect), [sync_id])
        wh.execute(
            render(insert, wh.dialect),
            [sync_id, naive(slot_at), run_id, status, (error or "")[:1000] or None, naive(now)],
        )
