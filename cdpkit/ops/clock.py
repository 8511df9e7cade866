"""Time for the scheduler, injectable: the system clock, or a manual one tests move by hand."""

from __future__ import annotations

import datetime as dt
import os
import threading
from typing import Protocol

OFFSET_ENV = "CDPKIT_CLOCK_OFFSET_S"


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """The current time, aware, in UTC."""
        ...

    def sleep(self, seconds: float, stop: threading.Event) -> None:
        """Wait `seconds` or until `stop` is set, whichever comes first."""
        ...


class SystemClock:
    """Real time. `CDPKIT_CLOCK_OFFSET_S` shifts it (tests reach a cron boundary sooner)."""

    def __init__(self, offset_s: float | None = None) -> None:
        raw = os.environ.get(OFFSET_ENV) if offset_s is None else offset_s
        self.offset = dt.timedelta(seconds=float(raw or 0))

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset

    def sleep(self, seconds: float, stop: threading.Event) -> None:
        if seconds > 0:
            stop.wait(seconds)


class ManualClock:
    """A clock that only moves when told to; `sleep` jumps ahead instantly (and is recorded)."""

    def __init__(self, start: dt.datetime) -> None:
        self._now = start if start.tzinfo else start.replace(tzinfo=dt.UTC)
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def now(self) -> dt.datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += dt.timedelta(seconds=seconds)

    def set(self, when: dt.datetime) -> None:
        with self._lock:
            self._now = when if when.tzinfo else when.replace(tzinfo=dt.UTC)

    def sleep(self, seconds: float, stop: threading.Event) -> None:
        self.sleeps.append(seconds)
        if not stop.is_set():
            self.advance(max(seconds, 0.0))
