"""`cdpkit run`: the whole pipeline once — build, check audiences, check destinations, sync.

    result = run_pipeline(project, PipelineOptions(everything=True))
    result.exit_code

Exit codes (for cron and CI):
  0  everything succeeded, or nothing was due, or a due sync was skipped because another
     process (the scheduler, an earlier `cdpkit run`) is running it right now
  1  something failed: the dbt build, an invalid audience or destination file, the warehouse,
     a sync (failed, blocked by a safety limit, cancelled by a shutdown)
  2  wrong command-line usage
  3  the syncs finished but the destination rejected some records (`cdpkit history show RUN`)
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from cdpkit import dbt_runner
from cdpkit.errors import CdpkitError
from cdpkit.ops import alerts as alerting
from cdpkit.ops.events import EventLog
from cdpkit.ops.tick import TickOptions, TickResult, run_due
from cdpkit.project import Project
from cdpkit.sync.jobs import ProgressEvent
from cdpkit.sync.loader import load_destinations

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_REJECTIONS, EXIT_DEFERRED = 0, 1, 2, 3, 4
FAILED_STATUSES = frozenset({"failed", "blocked", "cancelled"})


@dataclass(frozen=True)
class PipelineOptions:
    everything: bool = False  # every enabled sync, not only the due ones
    only: tuple[str, ...] = ()  # just these syncs (DEST.SYNC, destination or sync name)
    build: bool = True
    dry_run: bool = False
    allow_large_removals: bool = False
    stop: threading.Event | None = None


@dataclass(frozen=True)
class Step:
    name: str
    status: str  # ok | failed | skipped
    detail: str
    seconds: float = 0.0


@dataclass
class PipelineResult:
    steps: list[Step] = field(default_factory=list)
    tick: TickResult | None = None

    @property
    def failed(self) -> bool:
        return any(s.status == "failed" for s in self.steps)

    @property
    def exit_code(self) -> int:
        if self.failed:
            return EXIT_FAILED
        tick = self.tick
        if tick is None:
            return EXIT_OK
        if tick.failed or tick.not_started:
            return EXIT_FAILED
        if any(o.status in FAILED_STATUSES for o in tick.outcomes):
            return EXIT_FAILED
        if any(o.status == "deferred" for o in tick.outcomes):
            return EXIT_DEFERRED
        if any(o.status == "partial" for o in tick.outcomes):
            return EXIT_REJECTIONS
        return EXIT_OK


def run_pipeline(
    project: Project,
    options: PipelineOptions | None = None,
    *,
    now: dt.datetime | None = None,
    log: EventLog | None = None,
    on_step: Callable[[Step], None] | None = None,
    on_progress: Callable[[ProgressEvent], None] | None = None,
) -> PipelineResult:
    """Build → validate and compile audiences → validate destinations → due (or all) syncs."""
    options = options or PipelineOptions()
    now = now or dt.datetime.now(dt.UTC)
    result = PipelineResult()

    def add(step: Step) -> bool:
        result.steps.append(step)
        if on_step:
            on_step(step)
        return step.status != "failed"

    if not add(_build(project) if options.build else Step("build", "skipped", "--no-build")):
        return result
    if not add(_audiences(project, now)):
        return result
    destinations = _destinations(project)
    if not add(destinations):
        return result
    started = time.monotonic()
    try:
        sender = _sender(project)
        tick = run_due(
            project,
            now,
            TickOptions(
                everything=options.everything or bool(options.only),
                only=options.only,
                dry_run=options.dry_run,
                allow_large_removals=options.allow_large_removals,
                stop=options.stop,
            ),
            log=log,
            sender=sender,
            on_progress=on_progress,
        )
    except CdpkitError as exc:
        add(Step("syncs", "failed", str(exc), time.monotonic() - started))
        return result
    result.tick = tick
    add(Step("syncs", _sync_status(tick), _sync_detail(tick, options), time.monotonic() - started))
    return result


def _build(project: Project) -> Step:
    started = time.monotonic()
    outcome = dbt_runner.build(project)
    seconds = time.monotonic() - started
    try:
        dbt_runner.require_success(outcome)
    except CdpkitError as exc:
        return Step("build", "failed", str(exc), seconds)
    counts: dict[str, int] = {}
    for step in outcome.steps:
        for status, n in step.counts().items():
            counts[status] = counts.get(status, 0) + n
    detail = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "nothing to build"
    return Step("build", "ok", f"dbt build: {detail}", seconds)


def _audiences(project: Project, now: dt.datetime) -> Step:
    """Every audience valid, and each compiles for the target's dialect."""
    from cdpkit.audiences import membership_query, render, validate_project

    started = time.monotonic()
    try:
        target = project.target()
        validation = validate_project(project)
        validation.raise_for_errors()
        for name, audience in sorted(validation.audiences.items()):
            try:
                query = membership_query(
                    audience,
                    validation.audiences,
                    dialect=target.dialect,
                    schema=target.schema,
                    as_of=now,
                    catalog=validation.catalog,
                )
                render(query, target.dialect)
            except CdpkitError as exc:
                raise CdpkitError(f"audience '{name}' does not compile: {exc}") from exc
    except CdpkitError as exc:
        return Step("audiences", "failed", str(exc), time.monotonic() - started)
    count = len(validation.audiences)
    detail = f"{count} audience(s) valid, compiled for {target.dialect}"
    return Step("audiences", "ok", detail, time.monotonic() - started)


def _destinations(project: Project) -> Step:
    started = time.monotonic()
    try:
        loaded = load_destinations(project)
        loaded.raise_for_errors()
        alerting.load_settings(project)
    except CdpkitError as exc:
        return Step("destinations", "failed", str(exc), time.monotonic() - started)
    syncs = loaded.syncs()
    scheduled = sum(1 for _, s in syncs if s.schedule is not None)
    detail = (
        f"{len(loaded.destinations)} destination(s), {len(syncs)} sync(s), {scheduled} scheduled"
    )
    return Step("destinations", "ok", detail, time.monotonic() - started)


def _sender(project: Project) -> alerting.AlertSender | None:
    settings = alerting.load_settings(project)
    if settings is None:
        return None
    return alerting.AlertSender(settings, project=project.root.name)


def _sync_status(tick: TickResult) -> str:
    if tick.failed or tick.not_started or any(o.status in FAILED_STATUSES for o in tick.outcomes):
        return "failed"
    return "ok"


def _sync_detail(tick: TickResult, options: PipelineOptions) -> str:
    if not tick.candidates:
        return "nothing due" if not options.everything else "no enabled syncs"
    counts: dict[str, int] = {}
    for outcome in tick.outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    parts = [f"{n} {s}" for s, n in sorted(counts.items())]
    if tick.failed:
        parts.append(f"{len(tick.failed)} could not start")
    skipped = [s for s, _ in tick.skipped if not any(o.sync_id == s for o in tick.outcomes)]
    if skipped:
        parts.append(f"{len(skipped)} running elsewhere")
    if tick.not_started:
        parts.append(f"{len(tick.not_started)} not started (shutdown)")
    which = "planned" if options.dry_run else "ran"
    return f"{len(tick.candidates)} {which}: " + ", ".join(parts)
