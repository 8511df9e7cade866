"""Run what is due, once: claim each sync's slot, (build,) sync, record the slot, alert.

Used by every scheduler tick and by `cdpkit run`:

    result = run_due(project, clock.now(), TickOptions(stop=stop), log=log)

Two processes never run the same slot: each takes a claim (a lease `<sync>#schedule` in
`cdpkit.sync_leases`) and re-reads the slot state under it before running; the sync
engine's own lease still guarantees one run per sync at a time against manual `cdpkit sync`.
Due syncs run one after another, so one broken sync never stops the others.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from cdpkit import dbt_runner
from cdpkit.errors import CdpkitError
from cdpkit.ops import alerts as alerting
from cdpkit.ops import due as due_mod
from cdpkit.ops.events import EventLog
from cdpkit.ops.heartbeat import Heartbeat
from cdpkit.ops.schedules import SyncEntry, sync_entries
from cdpkit.ops.state import TERMINAL, ensure_tables, read_slots, write_slot
from cdpkit.project import Project
from cdpkit.sync import lease, runlog
from cdpkit.sync.api import run_syncs
from cdpkit.sync.jobs import ProgressEvent, SyncOutcome
from cdpkit.sync.loader import load_destinations, select_syncs
from cdpkit.warehouse import Warehouse, connect

CLAIM_SUFFIX = "#schedule"
CLAIM_SECONDS = 1800.0


@dataclass(frozen=True)
class TickOptions:
    everything: bool = False  # every enabled sync, due or not (`cdpkit run --all`)
    only: tuple[str, ...] = ()  # just these (DEST.SYNC, destination or sync name), due or not
    dry_run: bool = False
    force_build: bool = False  # build before syncing even if no sync asks for it
    allow_large_removals: bool = False
    stop: threading.Event | None = None


@dataclass
class TickResult:
    now: dt.datetime
    candidates: list[str] = field(default_factory=list)
    outcomes: list[SyncOutcome] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (sync, why)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (sync, error) before sending
    build: dbt_runner.BuildOutcome | None = None
    not_started: list[str] = field(default_factory=list)  # left due by a shutdown


def claim_key(sync_id: str) -> str:
    return sync_id + CLAIM_SUFFIX


def run_due(
    project: Project,
    now: dt.datetime,
    options: TickOptions | None = None,
    *,
    log: EventLog | None = None,
    heartbeat: Heartbeat | None = None,
    sender: alerting.AlertSender | None = None,
    on_progress: Callable[[ProgressEvent], None] | None = None,
) -> TickResult:
    """Run the due syncs (or all with `everything`) once; never raises for a single sync."""
    options = options or TickOptions()
    loaded = load_destinations(project)
    loaded.raise_for_errors()
    alerting.register_secrets(loaded, sender.settings if sender else None)
    entries = sync_entries(loaded)
    result = TickResult(now=now)
    with connect(project) as wh:
        ensure_tables(wh)
        slots = read_slots(wh)
        if options.only:
            wanted = {dest.sync_id(sync) for dest, sync in select_syncs(loaded, options.only)}
            candidates = due_mod.everything(entries, now, wanted)
        elif options.everything:
            candidates = due_mod.everything(entries, now)
        else:
            candidates = due_mod.due(entries, slots, now)
        result.candidates = [c.sync_id for c in candidates]
        if not candidates:
            return result
        if options.dry_run:
            names = [c.sync_id for c in candidates]
            result.outcomes = run_syncs(project, names, dry_run=True, warehouse=wh)
            return result
        _Tick(project, wh, options, result, log, heartbeat, sender, on_progress).run(candidates)
    return result


@dataclass
class _Tick:
    project: Project
    wh: Warehouse
    options: TickOptions
    result: TickResult
    log: EventLog | None
    heartbeat: Heartbeat | None
    sender: alerting.AlertSender | None
    on_progress: Callable[[ProgressEvent], None] | None
    claims: list[lease.Lease] = field(default_factory=list)

    def run(self, candidates: list[due_mod.Candidate]) -> None:
        try:
            mine = [c for c in candidates if self._claim(c)]
            if not mine:
                return
            built = self._build_if_needed([c.entry for c in mine])
            for candidate in mine:
                if self._stopping():
                    self.result.not_started.append(candidate.sync_id)
                    continue
                wants_build = self.options.force_build or candidate.entry.build_before
                if wants_build and built is False:
                    self._failed(candidate, "dbt build failed before this sync (see above)")
                    continue
                self._sync(candidate)
        finally:
            for claim in self.claims:
                try:
                    lease.release(self.wh, claim)
                except CdpkitError as exc:
                    self._emit("warning", "claim_release_failed", f"{claim.sync_id}: {exc}")
                if self.heartbeat:
                    self.heartbeat.drop(claim)
            if self.heartbeat:
                self.heartbeat.update(state="idle", activity=None)

    # -- steps --------------------------------------------------------------------------------
    def _claim(self, candidate: due_mod.Candidate) -> bool:
        sync_id = candidate.sync_id
        try:
            claim = lease.acquire(
                self.wh, claim_key(sync_id), runlog.new_run_id(), seconds=CLAIM_SECONDS
            )
        except lease.SyncLocked:
            self._skip(sync_id, "another scheduler (or `cdpkit run`) is running it")
            return False
        self.claims.append(claim)
        if self.heartbeat:
            self.heartbeat.hold(claim)
        if not (self.options.everything or self.options.only):
            fresh = read_slots(self.wh, [sync_id]).get(sync_id)
            if not due_mod.is_due(candidate.slot, fresh):
                self._skip(sync_id, "another process already ran this slot")
                return False
        return True

    def _build_if_needed(self, entries: list[SyncEntry]) -> bool | None:
        """None: no build wanted; True/False: the build's success."""
        if not (self.options.force_build or any(e.build_before for e in entries)):
            return None
        self._emit("info", "build_started", "dbt build before syncing")
        if self.heartbeat:
            self.heartbeat.update(state="running", activity="dbt build")
        outcome = dbt_runner.build(self.project)
        self.result.build = outcome
        try:
            dbt_runner.require_success(outcome)
        except CdpkitError as exc:
            self._emit("error", "build_failed", str(exc))
            return False
        self._emit("info", "build_finished", "dbt build succeeded")
        return True

    def _sync(self, candidate: due_mod.Candidate) -> None:
        sync_id = candidate.sync_id
        slot = candidate.slot
        self._emit(
            "info",
            "run_started",
            f"{sync_id}: starting" + (f" (slot {slot:%Y-%m-%d %H:%M} UTC)" if slot else ""),
            sync=sync_id,
            slot=slot,
        )
        if self.heartbeat:
            self.heartbeat.update(state="running", activity=f"syncing {sync_id}")
        try:
            outcomes = run_syncs(
                self.project,
                [sync_id],
                allow_large_removals=self.options.allow_large_removals,
                stop=self.options.stop,
                warehouse=self.wh,
                on_progress=self._progress,
            )
        except CdpkitError as exc:
            self._failed(candidate, str(exc))
            return
        for outcome in outcomes:
            self._record(candidate, outcome)

    def _record(self, candidate: due_mod.Candidate, outcome: SyncOutcome) -> None:
        self.result.outcomes.append(outcome)
        sync_id = outcome.sync_id
        c, r = sum(outcome.confirmed.values()), sum(outcome.rejected.values())
        level = "info" if outcome.status in ("success", "cancelled") else "warning"
        if outcome.status in ("failed", "blocked"):
            level = "error"
        message = f"{sync_id}: {outcome.status}, {c:,} confirmed, {r:,} rejected"
        if outcome.run_id:
            message += f" in {outcome.seconds:.1f}s (run {outcome.run_id})"
        if outcome.error:
            message += f": {outcome.error}"
        self._emit(
            level,
            "run_finished",
            message,
            sync=sync_id,
            run_id=outcome.run_id,
            status=outcome.status,
            confirmed=c,
            rejected=r,
            seconds=round(outcome.seconds, 3),
            records_per_s=round(outcome.records_per_s, 1),
        )
        if outcome.status == "locked":
            self.result.skipped.append((sync_id, outcome.error or "locked"))
            return
        if candidate.slot is not None and (
            outcome.status in TERMINAL or outcome.status == "cancelled"
        ):
            write_slot(
                self.wh,
                sync_id,
                candidate.slot,
                run_id=outcome.run_id,
                status=outcome.status,
                error=outcome.error,
                now=lease.utcnow(),
            )
        if self.sender:
            self.sender.send_all(alerting.alerts_for(outcome, self.sender.settings))

    def _failed(self, candidate: due_mod.Candidate, error: str) -> None:
        """The sync could not start (config, audience, build): record the slot as failed."""
        sync_id = candidate.sync_id
        self.result.failed.append((sync_id, error))
        self._emit("error", "run_failed", f"{sync_id}: {error}", sync=sync_id)
        if candidate.slot is not None:
            write_slot(
                self.wh,
                sync_id,
                candidate.slot,
                run_id=None,
                status="failed",
                error=error,
                now=lease.utcnow(),
            )
        if self.sender:
            self.sender.send(
                alerting.Alert(
                    "failed",
                    sync_id,
                    f"failed before sending anything: {error}",
                    f"cdpkit sync {sync_id} --dry-run",
                    (("Sync", sync_id),),
                )
            )

    def _skip(self, sync_id: str, why: str) -> None:
        self.result.skipped.append((sync_id, why))
        self._emit("info", "run_skipped", f"{sync_id}: skipped, {why}", sync=sync_id)

    def _progress(self, event: ProgressEvent) -> None:
        if self.heartbeat:
            self.heartbeat.update(
                activity=f"syncing {event.sync_id}: {event.done:,}/{event.total:,}"
            )
        if self.on_progress:
            self.on_progress(event)

    def _stopping(self) -> bool:
        return self.options.stop is not None and self.options.stop.is_set()

    def _emit(self, level: str, event: str, message: str, **fields: object) -> None:
        if self.log:
            self.log.emit(level, event, message, **fields)
