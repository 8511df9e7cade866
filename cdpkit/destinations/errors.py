"""How a connector reports failure: every failure is transient, terminal or per-batch/record.

- `TransientError` (429, 5xx, timeouts, connection resets): the engine retries the same batch
  with exponential backoff + jitter, waiting at least `retry_after` seconds when given.
- `TerminalError` (bad credentials, missing list, wrong URL): the engine stops this sync with
  the message, which must say what to fix. Nothing unconfirmed is marked synced.
- `BatchRejected` (the destination refused the whole batch without saying which record was
  bad, e.g. 400/413): the engine bisects the batch to isolate the bad records.
- `QuotaExhausted` (a daily or other long-period API quota is used up, e.g. HubSpot 429
  `DAILY`, Salesforce `REQUEST_LIMIT_EXCEEDED` TotalRequests, Google's daily quota): not a
  failure of the sync. The engine sends nothing more for it, records the run as `deferred`
  with the message (and when the quota resets, if known); the next run resumes.
- Per-record rejections are not exceptions: they are returned in `BatchResult.rejected`.
"""

from __future__ import annotations

import datetime as dt

from cdpkit.errors import CdpkitError


class DestinationError(CdpkitError):
    """Base class of the connector failure classes."""


class TransientError(DestinationError):
    """Retry later: the destination is throttling, overloaded or unreachable."""

    def __init__(self, message: str, *, retry_after: float | None = None, throttled: bool = False):
        super().__init__(message)
        self.retry_after = retry_after
        self.throttled = throttled


class TerminalError(DestinationError):
    """Stop the sync: retrying cannot help until someone fixes the cause named in the message."""


class BatchRejected(DestinationError):
    """The whole batch was refused; the engine splits it to find the records at fault."""


class Stopped(DestinationError):
    """The run is shutting down; the request was not sent (the records stay unconfirmed)."""


class QuotaExhausted(TerminalError):
    """A long-period quota is used up: stop this sync now, resume on the next run.

    Terminal for this run (more requests would only be refused), but not a failure: the engine
    records the run as `deferred`. `resets_at` (aware UTC) when the destination says when the
    quota comes back. The message should say what the quota is and how to get more; the
    engine adds when it resets.
    """

    def __init__(self, message: str, *, resets_at: dt.datetime | None = None) -> None:
        super().__init__(message)
        self.resets_at = resets_at

    def describe(self, now: dt.datetime | None = None) -> str:
        """The message plus when the quota resets (when known)."""
        text = str(self)
        if self.resets_at is None:
            return text
        now = now or dt.datetime.now(dt.UTC)
        when = self.resets_at.astimezone(dt.UTC)
        left = max(0, int((when - now).total_seconds()))
        hours, rest = divmod(left, 3600)
        wait = f"{hours}h {rest // 60:02d}m" if hours else f"{max(1, rest // 60)}m"
        return f"{text.rstrip('.')}. The quota resets at {when:%Y-%m-%d %H:%M} UTC (in {wait})."

    @classmethod
    def after(cls, message: str, seconds: float | None) -> QuotaExhausted:
        """The error for a quota that comes back in `seconds` (None: unknown)."""
        if seconds is None:
            return cls(message)
        return cls(message, resets_at=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds))
