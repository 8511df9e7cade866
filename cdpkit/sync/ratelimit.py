"""A thread-safe token bucket per destination account, shared by every sync that uses it.

`acquire()` blocks until a request may go out. When the destination throttles anyway
(429 + Retry-After), `pause(seconds)` holds back every worker of the account, so one 429 is
not followed by a burst of more.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


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

    def acquire(self, stop: threading.Event | None = None) -> None:
        """Take one token, sleeping as long as needed (returns early only if `stop` is set)."""
        while True:
            with self._lock:
                now = self._clock()
                wait = self._paused_until - now
                if wait <= 0:
                    if self.rate is None:
                        self._acquired += 1
                        return
                    self._refill(now)
                    if self._tokens >= 1.0 - _EPSILON:  # float dust must not stall a caller
                        self._tokens = max(0.0, self._tokens - 1.0)
                        self._acquired += 1
                        return
                    wait = (1.0 - self._tokens) / self.rate
                self._waited += wait
            if stop is not None:
                if stop.wait(wait):
                    return
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


class LimiterRegistry:
    """One bucket per account key, shared by every sync of that account in the process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[str, TokenBucket] = {}

    def get(self, key: str, rate: float | None, burst: int) -> TokenBucket:
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = TokenBucket(rate, burst)
                self._buckets[key] = bucket
            elif (bucket.rate, bucket.burst) != (rate, max(1, int(burst))):
                bucket.configure(rate, burst)
            return bucket
