"""Backoff for transient failures: exponential with full jitter, never shorter than Retry-After."""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """`delay(n)` for the n-th retry (1-based): uniform(0, min(max_delay, base * 2**(n-1)))."""

    max_attempts: int = 8
    base_delay_s: float = 0.5
    max_delay_s: float = 60.0
    max_elapsed_s: float = 900.0

    def delay(
        self, retry: int, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        ceiling = min(self.max_delay_s, self.base_delay_s * (2 ** max(0, retry - 1)))
        jitter = (rng or random).uniform(0.0, ceiling)
        if retry_after is not None and retry_after >= 0:
            # Honour the server's wait, plus a little jitter so workers do not return in lockstep.
            return min(retry_after, self.max_elapsed_s) + (rng or random).uniform(0.0, 0.1)
        return jitter

    def gives_up(self, attempts: int, elapsed_s: float) -> bool:
        return attempts >= self.max_attempts or elapsed_s >= self.max_elapsed_s


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))
