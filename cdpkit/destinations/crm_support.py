"""Pieces the CRM connectors (HubSpot, Salesforce) and the CRM import share.

- `DailyLimitReached`: the account's daily API allocation is used up. The run stops cleanly
  (nothing unconfirmed is marked synced) and the next run resumes with what is left.
- `RollingWindow`: at most `limit` requests in any `window_s` seconds, shared by every sync of
  one account in this process (HubSpot meters a rolling 10-second window, not a token bucket,
  so pacing the same way runs close to the limit without 429s).
- `chunks()`, `utc()`: small helpers.
"""

from __future__ import annotations

import collections
import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from cdpkit.destinations.errors import TerminalError

T = TypeVar("T")


class DailyLimitReached(TerminalError):
    """The destination's daily request allocation is exhausted: stop now, resume next run.

    A TerminalError so that the engine stops the sync at once (more requests would only be
    refused) and marks nothing more as synced; the records left go out on the next run.
    """


class RollingWindow:
    """At most `limit` requests in any `window_s` seconds (thread-safe, blocking)."""

    def __init__(
        self,
        limit: int,
        window_s: float,
        *,
        margin_s: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError("limit must be >= 1 and window_s > 0")
        self.limit = limit
        self.window_s = window_s
        self.margin_s = margin_s  # covers network jitter between our clock and the server's
        self._clock = clock
        self._lock = threading.Lock()
        self._sent: collections.deque[float] = collections.deque()
        self._paused_until = 0.0
        self.waited_s = 0.0

    def acquire(self, stop: threading.Event | None = None) -> bool:
        """Wait for a slot and take it; False if `stop` was set while waiting."""
        while True:
            with self._lock:
                now = self._clock()
                span = self.window_s + self.margin_s
                while self._sent and self._sent[0] <= now - span:
                    self._sent.popleft()
                wait = self._paused_until - now
                if wait <= 0:
                    if len(self._sent) < self.limit:
                        self._sent.append(now)
                        return True
                    wait = self._sent[0] + span - now
                self.waited_s += max(wait, 0.0)
            if stop is not None:
                if stop.wait(max(wait, 0.001)):
                    return False
            else:
                time.sleep(max(wait, 0.001))

    def pause(self, seconds: float) -> None:
        """Send nothing for `seconds` (the server said the window is full)."""
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + max(0.0, seconds))


class WindowRegistry:
    """One RollingWindow per account key (a new one when the configured limit changes)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[str, RollingWindow] = {}

    def get(self, key: str, limit: int, window_s: float) -> RollingWindow:
        with self._lock:
            window = self._windows.get(key)
            if window is None or (window.limit, window.window_s) != (limit, window_s):
                window = RollingWindow(limit, window_s)
                self._windows[key] = window
            return window


WINDOWS = WindowRegistry()


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most `size` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def utc(text: str | None) -> dt.datetime | None:
    """An ISO 8601 / Salesforce timestamp as a naive UTC datetime (None for empty)."""
    if not text:
        return None
    value = text.strip().replace("Z", "+00:00")
    if len(value) >= 5 and value[-5] in "+-" and value[-4:].isdigit() and ":" not in value[-5:]:
        value = value[:-2] + ":" + value[-2:]  # Salesforce writes +0000
    parsed = dt.datetime.fromisoformat(value)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed


def iso(value: dt.datetime) -> str:
    """A naive-UTC datetime as `2024-01-31T12:00:00.000Z`."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
