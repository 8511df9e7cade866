"""Pieces the CRM connectors (HubSpot, Salesforce) and the CRM import share.

- `DailyLimitReached`: the account's daily API allocation is used up: a `QuotaExhausted`, so
  the engine stops the sync cleanly, records the run `deferred` (nothing unconfirmed is marked
  synced) and the next run resumes with what is left.
- `RollingWindow`: the engine's `SlidingWindow` (at most `limit` requests in any `window_s`
  seconds); HubSpot is paced by it through `HubSpotDestination.rate_limit_for(config)`.
- `chunks()`, `utc()`: small helpers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import TypeVar

from cdpkit.destinations.errors import QuotaExhausted
from cdpkit.sync.ratelimit import SlidingWindow

T = TypeVar("T")


class DailyLimitReached(QuotaExhausted):
    """The destination's daily request allocation is exhausted: stop now, resume next run."""


RollingWindow = SlidingWindow  # kept for callers of the connector-local pacing it replaced


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
