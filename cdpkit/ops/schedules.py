"""The project's scheduled syncs (the `schedule:` of each sync in destinations/*.yml).

for s in load_schedules(project):
    s.sync_id, s.schedule.next_times(now, 3)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from cdpkit.ops.cron import CronSchedule
from cdpkit.project import Project
from cdpkit.sync.loader import DestinationSet, load_destinations


@dataclass(frozen=True)
class SyncEntry:
    """One configured sync, scheduled or not."""

    sync_id: str
    destination: str
    sync_name: str
    audience: str
    mode: str
    enabled: bool
    schedule: CronSchedule | None
    build_before: bool


@dataclass(frozen=True)
class Upcoming:
    entry: SyncEntry
    next_times: tuple[dt.datetime, ...]


def sync_entries(loaded: DestinationSet) -> list[SyncEntry]:
    """Every sync of valid destination files, in file order."""
    entries: list[SyncEntry] = []
    for dest, sync in loaded.syncs():
        cfg: Any = sync.schedule
        schedule = CronSchedule(cfg.cron, cfg.timezone) if cfg is not None else None
        entries.append(
            SyncEntry(
                sync_id=dest.sync_id(sync),
                destination=dest.name,
                sync_name=sync.sync_name,
                audience=sync.audience,
                mode=sync.mode,
                enabled=sync.enabled,
                schedule=schedule,
                build_before=_build_before(sync),
            )
        )
    return entries


def load_entries(project: Project) -> list[SyncEntry]:
    """Every sync of the project; SpecError (file:line:col) when a destination file is invalid."""
    loaded = load_destinations(project)
    loaded.raise_for_errors()
    return sync_entries(loaded)


def scheduled(entries: list[SyncEntry]) -> list[SyncEntry]:
    """Enabled syncs with a schedule."""
    return [e for e in entries if e.enabled and e.schedule is not None]


def upcoming(project: Project, now: dt.datetime, count: int = 3) -> list[Upcoming]:
    """Each scheduled sync (disabled ones too, with no times) and its next `count` run times."""
    out: list[Upcoming] = []
    for entry in load_entries(project):
        if entry.schedule is None:
            continue
        times = entry.schedule.next_times(now, count) if entry.enabled else []
        out.append(Upcoming(entry, tuple(times)))
    return out


def _build_before(sync: Any) -> bool:
    """`build_before: true` on the schedule (or the sync), once the config model has it."""
    for owner in (sync.schedule, sync):
        if owner is not None and bool(getattr(owner, "build_before", False)):
            return True
    return False
