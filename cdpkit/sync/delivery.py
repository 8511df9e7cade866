"""Deliver one batch: call the connector, retry transient failures, bisect whole-batch refusals.

Runs in a worker thread; touches no state. The result says, per record, what happened:
confirmed, rejected (with the destination's reason), or not delivered (the sync stopped on
a terminal error, a used-up quota, gave up retrying, or was asked to stop) — those stay
unconfirmed and go out again on the next run. A transient failure whose Retry-After is longer
than the whole retry budget (`max_elapsed_s`) is a used-up quota: waiting in the run would only
end in giving up, so the run is deferred instead.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from cdpkit.destinations.base import Batch, BatchResult, Destination, Record
from cdpkit.destinations.errors import (
    BatchRejected,
    DestinationError,
    QuotaExhausted,
    Stopped,
    TerminalError,
    TransientError,
)
from cdpkit.sync.redact import redact
from cdpkit.sync.retry import RetryPolicy

T = TypeVar("T")


class RetriesExhausted(TerminalError):
    """A transient failure persisted past the retry policy."""


@dataclass
class Delivery:
    """The outcome of one batch."""

    batch: Batch
    confirmed: list[Record] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)
    undelivered: list[Record] = field(default_factory=list)
    destination_ids: dict[str, str] = field(default_factory=dict)
    already_present: set[str] = field(default_factory=set)
    requests: int = 0
    retries: int = 0
    error: DestinationError | None = None
    seconds: float = 0.0


def deliver(
    connector: Destination,
    batch: Batch,
    policy: RetryPolicy,
    *,
    stop: threading.Event | None = None,
    sleep: Callable[[float], bool] | None = None,
    rng: random.Random | None = None,
) -> Delivery:
    """Send `batch` until every record is confirmed, rejected, or delivery must stop."""
    started = time.monotonic()
    out = Delivery(batch)
    wait = sleep or ((lambda s: stop.wait(s)) if stop is not None else _sleep)
    pending: list[Batch] = [batch]
    while pending:
        part = pending.pop(0)
        if out.error is not None:
            out.undelivered.extend(part.records)
            continue
        try:
            result = _send_with_retries(connector, part, policy, out, wait, rng, stop)
        except BatchRejected as exc:
            if len(part) == 1:
                out.rejected[part.records[0].key] = (
                    redact(str(exc)) or "rejected by the destination"
                )
            else:
                pending[:0] = list(part.halves())
            continue
        except DestinationError as exc:
            out.error = exc
            out.undelivered.extend(part.records)
            continue
        _apply(out, part, result)
    out.seconds = time.monotonic() - started
    return out


def _send_with_retries(
    connector: Destination,
    batch: Batch,
    policy: RetryPolicy,
    out: Delivery,
    wait: Callable[[float], bool],
    rng: random.Random | None,
    stop: threading.Event | None,
) -> BatchResult:
    started = time.monotonic()
    attempt = 0
    while True:
        if stop is not None and stop.is_set():
            raise Stopped("stopped before the batch was confirmed")
        attempt += 1
        out.requests += 1
        try:
            if batch.operation == "upsert":
                return connector.upsert(batch)
            return connector.remove(batch)
        except TransientError as exc:
            elapsed = time.monotonic() - started
            _raise_if_too_long(exc, policy)
            if policy.gives_up(attempt, elapsed):
                raise RetriesExhausted(
                    f"gave up after {attempt} attempts over {elapsed:.0f}s: {redact(str(exc))}"
                ) from None
            out.retries += 1
            if wait(policy.delay(attempt, exc.retry_after, rng)):
                raise Stopped("stopped while waiting to retry") from None
        except (BatchRejected, TerminalError):
            raise
        except DestinationError:
            raise
        except Exception as exc:  # a connector bug must not pass as success
            raise TerminalError(
                f"the {connector.type} connector failed unexpectedly: "
                f"{type(exc).__name__}: {redact(str(exc))[:300]}"
            ) from None


def with_retries(
    call: Callable[[], T],
    policy: RetryPolicy,
    *,
    stop: threading.Event | None = None,
    rng: random.Random | None = None,
    on_retry: Callable[[], None] | None = None,
) -> T:
    """`call()` retried on TransientError per the policy (for check/open/close)."""
    started = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        try:
            return call()
        except TransientError as exc:
            elapsed = time.monotonic() - started
            _raise_if_too_long(exc, policy)
            if policy.gives_up(attempt, elapsed):
                raise RetriesExhausted(
                    f"gave up after {attempt} attempts over {elapsed:.0f}s: {redact(str(exc))}"
                ) from None
            if on_retry is not None:
                on_retry()
            delay = policy.delay(attempt, exc.retry_after, rng)
            if stop is not None:
                if stop.wait(delay):
                    raise Stopped("stopped while waiting to retry") from None
            else:
                time.sleep(delay)


def _raise_if_too_long(exc: TransientError, policy: RetryPolicy) -> None:
    """A wait longer than the whole retry budget is a used-up quota: defer the run."""
    wait = exc.retry_after
    if wait is not None and wait > policy.max_elapsed_s:
        raise QuotaExhausted.after(
            f"the destination asked to wait {wait:,.0f}s before the next request, longer than "
            f"the retry budget (retry.max_elapsed_s: {policy.max_elapsed_s:g}): "
            f"{redact(str(exc))}",
            wait,
        ) from None


def _apply(out: Delivery, batch: Batch, result: BatchResult) -> None:
    if not (result.rejected or result.destination_ids or result.already_present):
        out.confirmed.extend(batch.records)  # the common case: everything confirmed
        return
    keys = set(batch.keys)
    for key, reason in result.rejected.items():
        if key in keys:
            out.rejected[key] = redact(str(reason)) or "rejected by the destination"
    for record in batch.records:
        if record.key not in result.rejected:
            out.confirmed.append(record)
    out.destination_ids.update({k: str(v) for k, v in result.destination_ids.items() if k in keys})
    out.already_present.update(k for k in result.already_present if k in keys)


def _sleep(seconds: float) -> bool:
    time.sleep(seconds)
    return False
