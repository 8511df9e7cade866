"""Thread-safe rate limiters per destination account, shared by every sync that uses it.

Two shapes, chosen by the connector's `RateLimit` (`Destination.rate_limit_for(config)`):

- `TokenBucket`: `per_second` sustained, up to `burst` at once (most APIs);
- `SlidingWindow`: at most `limit` requests in any rolling `window_s` seconds (HubSpot meters a
  rolling 10-second window: pacing the same way runs close to the limit without 429s, which a
  token bucket cannot do without either bursting over it or giving up a share of it).

`acquire()` blocks until a request may go out. When the destination throttles anyway
(429 + Retry-After), `pause(seconds)` holds back every worker of the account, so one 429 is
not followed by a burst of more.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class BucketStats:
    acquired: int
    waited_s: float
    pauses: int


_EPSILON = 1e-9


class TokenBucket:
    """`rate` tokens per second, at most `burst` stored; `rate=None` means unlimited."""

    def __init__(
        self,
        rate: float | None,
        burst: int = 1,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = max(1, int(burst))
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(self.burst)
        self._updated = clock()
        self._paused_until = 0.0
        self._acquired = 0
        self._waited = 0.0
        self._pauses = 0

    @property
    def unlimited(self) -> bool:
        return self.rate is None

    def acquire(self, stop: threading.Event | None = None) -> bool:
        """Take one token, sleeping as long as needed; False if `stop` was set while waiting."""
        while True:
            with self._lock:
                now = self._clock()
                wait = self._paused_until - now
                if wait <= 0:
                    if self.rate is None:
                        self._acquired += 1
                        return True
                    self._refill(now)
                    if self._tokens >= 1.0 - _EPSILON:  # float dust must not stall a caller
                        self._tokens = max(0.0, self._tokens - 1.0)
                        self._acquired += 1
                        return True
                    wait = (1.0 - self._tokens) / self.rate
                self._waited += wait
            if stop is not None:
                if stop.wait(wait):
                    return False
            else:
                self._sleep(wait)

    def pause(self, seconds: float) -> None:
        """Hold every caller back for `seconds` (the destination said to slow down)."""
        with self._lock:
            now = self._clock()
            until = now + max(0.0, seconds)
            if until > self._paused_until:
                self._paused_until = until
                self._pauses += 1
            # Restart from an empty bucket: the destination's own window is full.
            self._tokens = 0.0
            self._updated = max(self._updated, until)

    def paused_for(self) -> float:
        """Seconds left of the current pause (0 when not paused)."""
        with self._lock:
            return max(0.0, self._paused_until - self._clock())

    def configure(self, rate: float | None, burst: int) -> None:
        """Change the limits in place (a destination file was edited while the process ran)."""
        with self._lock:
            self.rate = rate
            self.burst = max(1, int(burst))
            self._tokens = min(self._tokens, float(self.burst))

    def stats(self) -> BucketStats:
        with self._lock:
            return BucketStats(self._acquired, self._waited, self._pauses)

    def _refill(self, now: float) -> None:
        assert self.rate is not None
        if now > self._updated:
            self._tokens = min(float(self.burst), self._tokens + (now - self._updated) * self.rate)
            self._updated = now


class SlidingWindow:
    """At most `limit` requests in any rolling `window_s` seconds (thread-safe, blocking).

    `margin_s` widens the window a little: it covers network jitter between our clock and the
    server's, so a request counted at the edge of our window is not the server's limit+1st.
    """

    def __init__(
        self,
        limit: int,
        window_s: float,
        *,
        margin_s: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError("limit must be >= 1 and window_s > 0")
        self.limit = int(limit)
        self.window_s = float(window_s)
        self.margin_s = margin_s
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._sent: collections.deque[float] = collections.deque()
        self._paused_until = 0.0
        self._acquired = 0
        self._pauses = 0
        self.waited_s = 0.0

    unlimited = False

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
                        self._acquired += 1
                        return True
                    wait = self._sent[0] + span - now
                wait = max(wait, 0.001)
                self.waited_s += wait
            if stop is not None:
                if stop.wait(wait):
                    return False
            else:
                self._sleep(wait)

    def pause(self, seconds: float) -> None:
        """Send nothing for `seconds` (the server said the window is full)."""
        with self._lock:
            until = self._clock() + max(0.0, seconds)
            if until > self._paused_until:
                self._paused_until = until
                self._pauses += 1

    def paused_for(self) -> float:
        """Seconds left of the current pause (0 when not paused)."""
        with self._lock:
            return max(0.0, self._paused_until - self._clock())

    def configure(self, limit: int, window_s: float) -> None:
        with self._lock:
            self.limit = max(1, int(limit))
            self.window_s = float(window_s)

    def stats(self) -> BucketStats:
        with self._lock:
            return BucketStats(self._acquired, self.waited_s, self._pauses)


class Limiter(Protocol):
    """What HttpClient needs from a limiter (TokenBucket and SlidingWindow)."""

    @property
    def unlimited(self) -> bool: ...

    def acquire(self, stop: threading.Event | None = None) -> bool: ...

    def pause(self, seconds: float) -> None: ...

    def paused_for(self) -> float: ...

    def stats(self) -> BucketStats: ...


@dataclass(frozen=True)
class Pace:
    """A limiter's shape: a token bucket (`window_s` None) or a rolling window of `limit`."""

    per_second: float | None
    burst: int = 1
    window_s: float | None = None

    @property
    def window_limit(self) -> int:
        assert self.per_second is not None and self.window_s is not None
        return max(1, round(self.per_second * self.window_s))


class LimiterRegistry:
    """One limiter per account key, shared by every sync of that account in the process.

    A limiter whose configured limits changed (a destination file was edited while a
    scheduler ran) is reconfigured in place, so waiting callers keep their place.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._limiters: dict[str, TokenBucket | SlidingWindow] = {}

    def get(
        self, key: str, rate: float | None, burst: int = 1, window_s: float | None = None
    ) -> TokenBucket | SlidingWindow:
        pace = Pace(rate, max(1, int(burst)), window_s if rate is not None else None)
        with self._lock:
            limiter = self._limiters.get(key)
            if pace.window_s is not None:
                if isinstance(limiter, SlidingWindow):
                    if (limiter.limit, limiter.window_s) != (pace.window_limit, pace.window_s):
                        limiter.configure(pace.window_limit, pace.window_s)
                    return limiter
                limiter = SlidingWindow(pace.window_limit, pace.window_s)
            elif isinstance(limiter, TokenBucket):
                if (limiter.rate, limiter.burst) != (pace.per_second, pace.burst):
                    limiter.configure(pace.per_second, pace.burst)
                return limiter
            else:
                limiter = TokenBucket(pace.per_second, pace.burst)
            self._limiters[key] = limiter
            return limiter

    def forget(self, key: str) -> None:
        """Drop the account's limiter (and any pause it holds); the next `get` starts afresh."""
        with self._lock:
            self._limiters.pop(key, None)


LIMITERS = LimiterRegistry()
"""The process-wide registry: every sync (and import) of one account shares one limiter."""
