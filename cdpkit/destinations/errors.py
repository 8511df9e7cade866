"""How a connector reports failure: every failure is transient, terminal or per-batch/record.

- `TransientError` (429, 5xx, timeouts, connection resets): the engine retries the same batch
  with exponential backoff + jitter, waiting at least `retry_after` seconds when given.
- `TerminalError` (bad credentials, missing list, wrong URL): the engine stops this sync with
  the message, which must say what to fix. Nothing unconfirmed is marked synced.
- `BatchRejected` (the destination refused the whole batch without saying which record was
  bad, e.g. 400/413): the engine bisects the batch to isolate the bad records.
- Per-record rejections are not exceptions: they are returned in `BatchResult.rejected`.
"""

from __future__ import annotations

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
