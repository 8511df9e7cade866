"""Which syncs are due: the latest schedule slot at or before now that no finished run handled.

Only the latest slot counts, so a scheduler that was down for ten slots runs a sync once on
start, not ten times. A sync that never ran under a schedule is due at once (its destination
has never been brought up to date). A cancelled or interrupted run leaves its slot due.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cdpkit.ops.schedules import SyncEntry, scheduled
from cdpkit.ops.state import SlotState


@dataclass(frozen=True)
class Candidate:
    """A sync to run now and the slot it handles (None: an unscheduled sync run by --all)."""

    entry: SyncEntry
    slot: dt.datetime | None

    @property
    def sync_id(self) -> str:
        return self.entry.sync_id


def is_due(slot: dt.datetime | None, state: SlotState | None) -> bool:
    """`slot` has not been handled by a finished run."""
    if slot is None:
        return False
    if state is None:
        return True
    if state.slot_at > slot:  # the clock went back; never re-run an older slot
        return False
    return state.slot_at < slot or not state.finished


def due(entries: list[SyncEntry], slots: dict[str, SlotState], now: dt.datetime) -> list[Candidate]:
    """Enabled scheduled syncs whose latest slot is due, in file order."""
    out: list[Candidate] = []
    for entry in scheduled(entries):
        assert entry.schedule is not None
        slot = entry.schedule.previous_time(now)
        if is_due(slot, slots.get(entry.sync_id)):
            out.append(Candidate(entry, slot))
    return out


def everything(
    entries: list[SyncEntry], now: dt.datetime, only: set[str] | None = None
) -> list[Candidate]:
    """Every enabled sync (or exactly the `only` ones); scheduled ones handle their latest slot."""
    return [
        Candidate(e, e.schedule.previous_time(now) if e.schedule else None)
        for e in entries
        if (e.sync_id in only if only is not None else e.enabled)
    ]


def next_due(entries: list[SyncEntry], now: dt.datetime) -> dt.datetime | None:
    """The earliest slot after `now` among enabled scheduled syncs."""
    times = [t for e in scheduled(entries) if e.schedule for t in e.schedule.next_times(now, 1)]
    return min(times) if times else None
