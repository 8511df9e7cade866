"""`cdpkit schedule run`: a foreground scheduler for a server or a container.

    stop = threading.Event()
    restore = install_signal_handlers(stop)       # SIGTERM/SIGINT: finish the batch, exit
    Scheduler(project, log=EventLog("json", sys.stderr), stop=stop).run()

Each tick runs what is due (see cdpkit.ops.tick), then sleeps until the next slot of any
schedule or the next heartbeat, whichever is sooner. Destination files are re-read every
tick, so edits apply without a restart (an invalid edit is logged and alerted; the
scheduler keeps running and retries). On a stop request the sync in flight finishes its
in-flight batches, checkpoints them and ends as `cancelled`; its slot stays due, so the
next start resumes it.
"""

from __future__ import annotations

import datetime as dt
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any

from cdpkit.errors import CdpkitError
from cdpkit.ops import alerts as alerting
from cdpkit.ops.clock import Clock, SystemClock
from cdpkit.ops.due import next_due
from cdpkit.ops.events import EventLog
from cdpkit.ops.heartbeat import Heartbeat, prune
from cdpkit.ops.schedules import load_entries, scheduled
from cdpkit.ops.state import ensure_tables, naive
from cdpkit.ops.tick import TickOptions, TickResult, run_due
from cdpkit.project import Project
from cdpkit.spec.diagnostics import SpecError
from cdpkit.warehouse import connect

WAKE_MARGIN_S = 0.05  # wake just after a slot, not just before it


@dataclass(frozen=True)
class SchedulerOptions:
    heartbeat_s: float = 30.0
    force_build: bool = False
    max_ticks: int | None = None  # stop after this many ticks (tests, `--once`-style use)


class Scheduler:
    def __init__(
        self,
        project: Project,
        *,
        log: EventLog,
        stop: threading.Event | None = None,
        clock: Clock | None = None,
        options: SchedulerOptions | None = None,
        heartbeat: Heartbeat | None = None,
        on_tick: Callable[[TickResult], None] | None = None,
    ) -> None:
        self.project = project
        self.log = log
        self.stop = stop or threading.Event()
        self.clock = clock or SystemClock()
        self.options = options or SchedulerOptions()
        self.heartbeat = heartbeat or Heartbeat(
            project, interval_s=self.options.heartbeat_s, on_error=self._heartbeat_problem
        )
        self.on_tick = on_tick
        self.ticks = 0
        self.sender: alerting.AlertSender | None = None

    def run(self) -> None:
        """Tick until stopped. Invalid configuration at start is raised (exit 1)."""
        entries = load_entries(self.project)  # fail fast on a broken project
        self._startup(len(scheduled(entries)))
        try:
            while not self.stop.is_set():
                now = self.clock.now()
                self._tick(now)
                self.ticks += 1
                if self.stop.is_set():
                    break
                if self.options.max_ticks is not None and self.ticks >= self.options.max_ticks:
                    break
                self._sleep()
        except KeyboardInterrupt:
            self.log.warning("shutdown_forced", "second interrupt: stopped without waiting")
        finally:
            self.heartbeat.stop("stopped")
            self.log.info("scheduler_stopped", "scheduler stopped", ticks=self.ticks)

    # -- steps --------------------------------------------------------------------------------
    def _startup(self, count: int) -> None:
        self.sender = self._alert_sender()
        with connect(self.project) as wh:
            ensure_tables(wh)
            prune(wh, dt.datetime.now(dt.UTC))
        self.heartbeat.update(state="idle")
        self.heartbeat.start()
        target = self.project.target()
        self.log.info(
            "scheduler_started",
            f"scheduler started: {count} scheduled sync(s), project {self.project.root.name}, "
            f"target {target.name}, heartbeat every {self.options.heartbeat_s:g}s",
            scheduled=count,
            scheduler_id=self.heartbeat.beat.scheduler_id,
        )

    def _tick(self, now: dt.datetime) -> None:
        options = TickOptions(force_build=self.options.force_build, stop=self.stop)
        try:
            self.sender = self._alert_sender() or self.sender
            result = run_due(
                self.project,
                now,
                options,
                log=self.log,
                heartbeat=self.heartbeat,
                sender=self.sender,
            )
        except SpecError as exc:
            self._problem("config_invalid", f"invalid configuration, nothing run this tick:\n{exc}")
            return
        except CdpkitError as exc:
            self._problem("tick_failed", str(exc))
            return
        except Exception as exc:  # a daemon keeps going; the next tick may well succeed
            self._problem("tick_crashed", f"unexpected {type(exc).__name__}: {exc}")
            return
        if result.not_started:
            self.log.info(
                "runs_deferred",
                f"shutting down: not started {', '.join(result.not_started)} (still due)",
            )
        if self.on_tick:
            self.on_tick(result)

    def _sleep(self) -> None:
        now = self.clock.now()
        wake = now + dt.timedelta(seconds=self.options.heartbeat_s)
        try:
            upcoming = next_due(load_entries(self.project), now)
        except CdpkitError:
            upcoming = None
        if upcoming is not None:
            wake = min(wake, upcoming + dt.timedelta(seconds=WAKE_MARGIN_S))
        self.heartbeat.update(state="idle", next_due_at=naive(upcoming) if upcoming else None)
        self.clock.sleep((wake - now).total_seconds(), self.stop)

    def _alert_sender(self) -> alerting.AlertSender | None:
        try:
            settings = alerting.load_settings(self.project)
        except CdpkitError as exc:
            self._problem("alerts_invalid", f"alert settings invalid: {exc}", alert=False)
            return None
        if settings is None:
            return None
        return alerting.AlertSender(
            settings,
            project=self.project.root.name,
            on_error=lambda m: self.log.warning("alert_failed", m),
            on_sent=lambda a: self.log.info(
                "alert_sent", f"alert sent: {a.subject} {a.kind}", kind=a.kind
            ),
        )

    def _problem(self, event: str, message: str, *, alert: bool = True) -> None:
        locked = "is locked by another process" in message
        self.log.emit("warning" if locked else "error", event, message)
        if alert and not locked and self.sender is not None:
            self.sender.send(alerting.scheduler_alert(message.splitlines()[0]))

    def _heartbeat_problem(self, message: str) -> None:
        self.log.warning("heartbeat_failed", message)


def install_signal_handlers(
    stop: threading.Event, log: EventLog | None = None
) -> Callable[[], None]:
    """SIGTERM/SIGINT set `stop` (finish in-flight batches, then exit); a second one interrupts.

    Returns a function that restores the previous handlers. Main thread only.
    """
    previous: dict[int, Any] = {}

    def handler(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if stop.is_set():
            if log:
                log.warning("shutdown_forced", f"{name} again: stopping retries now")
            raise KeyboardInterrupt
        stop.set()
        if log:
            log.info("shutdown_requested", f"{name}: finishing the batches in flight, then exiting")

    for sig in (signal.SIGTERM, signal.SIGINT):
        previous[sig] = signal.signal(sig, handler)

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore
