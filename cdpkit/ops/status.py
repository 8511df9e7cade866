"""`cdpkit status`: is a scheduler alive, and how did each sync's last run go?

Read from the warehouse (heartbeats, slot state, run history). While a sync holds a DuckDB
file's lock, the scheduler part comes from the heartbeat files in logs/ instead, and the
runs are reported as unavailable.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from cdpkit.errors import WarehouseError
from cdpkit.ops.cron import as_utc
from cdpkit.ops.heartbeat import Beat, Liveness, liveness, read_beats, read_mirrors
from cdpkit.ops.schedules import SyncEntry, load_entries
from cdpkit.ops.state import SlotState, ensure_tables, read_slots
from cdpkit.project import Project
from cdpkit.sync import runlog
from cdpkit.warehouse import connect

RECENT_RUNS = 500


@dataclass(frozen=True)
class SchedulerInfo:
    beat: Beat
    liveness: Liveness


@dataclass(frozen=True)
class SyncStatus:
    entry: SyncEntry
    next_run: dt.datetime | None
    slot: SlotState | None
    last_run: dict[str, Any] | None


@dataclass
class Status:
    now: dt.datetime
    schedulers: list[SchedulerInfo] = field(default_factory=list)
    syncs: list[SyncStatus] = field(default_factory=list)
    source: str = "warehouse"  # warehouse | heartbeat files
    problem: str | None = None

    @property
    def alive(self) -> list[SchedulerInfo]:
        return [s for s in self.schedulers if s.liveness.alive]


def collect_status(project: Project, now: dt.datetime | None = None) -> Status:
    now = as_utc(now or dt.datetime.now(dt.UTC))
    entries = load_entries(project)
    status = Status(now=now)
    beats: list[Beat] = []
    slots: dict[str, SlotState] = {}
    last: dict[str, dict[str, Any]] = {}
    try:
        with connect(project) as wh:
            ensure_tables(wh)
            beats = read_beats(wh)
            slots = read_slots(wh)
            for row in runlog.list_runs(wh, limit=RECENT_RUNS):
                last.setdefault(row["sync_id"], row.values)
    except WarehouseError as exc:
        status.source = "heartbeat files"
        status.problem = str(exc)
        beats = read_mirrors(project)
    status.schedulers = [SchedulerInfo(b, liveness(b, now)) for b in beats]
    for entry in entries:
        upcoming = entry.schedule.next_times(now, 1) if entry.schedule and entry.enabled else []
        status.syncs.append(
            SyncStatus(
                entry,
                upcoming[0] if upcoming else None,
                slots.get(entry.sync_id),
                last.get(entry.sync_id),
            )
        )
    return status


def as_json(status: Status) -> dict[str, Any]:
    """A JSON-ready document (times ISO 8601, UTC)."""

    def iso(value: dt.datetime | None) -> str | None:
        return as_utc(value).isoformat() if value else None

    return {
        "now": iso(status.now),
        "source": status.source,
        "problem": status.problem,
        "scheduler_alive": bool(status.alive),
        "schedulers": [
            {
                "scheduler_id": s.beat.scheduler_id,
                "host": s.beat.host,
                "pid": s.beat.pid,
                "alive": s.liveness.alive,
                "reason": s.liveness.reason,
                "state": s.beat.state,
                "activity": s.beat.activity,
                "started_at": iso(s.beat.started_at),
                "last_beat_at": iso(s.beat.beat_at),
                "next_due_at": iso(s.beat.next_due_at),
            }
            for s in status.schedulers
        ],
        "syncs": [
            {
                "sync": s.entry.sync_id,
                "enabled": s.entry.enabled,
                "schedule": s.entry.schedule.cron if s.entry.schedule else None,
                "timezone": s.entry.schedule.timezone if s.entry.schedule else None,
                "next_run_at": iso(s.next_run),
                "last_slot": iso(s.slot.slot_at) if s.slot else None,
                "last_slot_status": s.slot.status if s.slot else None,
                "last_run": _run_json(s.last_run),
            }
            for s in status.syncs
        ],
    }


def _run_json(run: dict[str, Any] | None) -> dict[str, Any] | None:
    if run is None:
        return None
    counts = runlog.counts_of(runlog.RunRow(run))
    return {
        "run_id": run["run_id"],
        "status": run["status"],
        "started_at": as_utc(run["started_at"]).isoformat() if run["started_at"] else None,
        "finished_at": as_utc(run["finished_at"]).isoformat() if run["finished_at"] else None,
        "confirmed": sum(counts[f"confirmed_{op}"] for op in ("add", "update", "remove")),
        "rejected": sum(counts[f"rejected_{op}"] for op in ("add", "update", "remove")),
        "error": run["error"],
    }
