"""The unit of work the engine runs (a sync with everything resolved) and what it reports."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlglot import exp

from cdpkit.destinations.base import Destination, RateLimit
from cdpkit.sync.config import DestinationConfig, SafetyConfig, SyncConfig
from cdpkit.sync.membership import Membership
from cdpkit.sync.plan import DiffSpec, Plan
from cdpkit.sync.retry import RetryPolicy

OPS = ("add", "update", "remove")


@dataclass(frozen=True)
class SyncJob:
    """One sync of one destination, ready to plan and run."""

    destination: str
    config: DestinationConfig
    sync: SyncConfig
    connector: type[Destination]
    membership: Membership
    customers: exp.Table | None = None
    suppression: tuple[exp.Query, ...] = ()

    @property
    def sync_id(self) -> str:
        return f"{self.destination}.{self.sync.sync_name}"

    @property
    def batch_size(self) -> int:
        return self.connector.batch_size_for(self.config)

    @property
    def concurrency(self) -> int:
        return self.config.concurrency or self.connector.max_concurrency

    @property
    def consent(self) -> str | None:
        wanted = self.sync.require_consent or self.connector.default_consent
        return None if wanted in (None, "none") else wanted

    @property
    def rate(self) -> RateLimit | None:
        """The file's `rate_limit:` when given, else the connector's limit for this config."""
        if self.config.rate_limit is not None:
            rl = self.config.rate_limit
            return RateLimit(rl.requests_per_second, rl.burst or 1)
        return self.connector.rate_limit_for(self.config)

    @property
    def retry(self) -> RetryPolicy:
        r = self.config.retry
        return RetryPolicy(r.max_attempts, r.base_delay_s, r.max_delay_s, r.max_elapsed_s)

    def diff_spec(self, *, full_resync: bool = False) -> DiffSpec:
        mapping = tuple(self.sync.mapping.items())
        return DiffSpec(
            sync_id=self.sync_id,
            mode=self.sync.mode,
            identifier=self.sync.identifier,
            mapping=mapping,
            skip_nulls=self.sync.skip_nulls,
            consent=self.consent,
            customers=self.customers,
            suppression=self.suppression,
            full_resync=full_resync,
        )


@dataclass(frozen=True)
class ProgressEvent:
    sync_id: str
    done: int
    total: int
    confirmed: int
    rejected: int


@dataclass(frozen=True)
class EngineOptions:
    dry_run: bool = False
    allow_large_removals: bool = False
    full_resync: bool = False  # send every current member, whatever the state says
    sample_size: int = 5
    lease_seconds: float = 600.0
    project_root: Path = field(default_factory=Path.cwd)
    as_of: dt.datetime | None = None
    stop: threading.Event | None = None
    on_progress: Callable[[ProgressEvent], None] | None = None


@dataclass
class SyncOutcome:
    """What happened to one sync (dry runs: what would happen)."""

    sync_id: str
    destination: str
    destination_type: str
    sync_name: str
    audience: str
    mode: str
    status: str  # planned | success | partial | deferred | failed | blocked | locked | cancelled
    run_id: str | None = None
    full_resync: bool = False
    resets_at: dt.datetime | None = None  # deferred: when the destination's quota comes back
    plan: dict[str, Any] = field(default_factory=dict)
    sent: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OPS, 0))
    confirmed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OPS, 0))
    rejected: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OPS, 0))
    rejections: list[dict[str, str]] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    requests: int = 0
    retries: int = 0
    throttled: int = 0

    @property
    def records_per_s(self) -> float:
        done = sum(self.confirmed.values()) + sum(self.rejected.values())
        return done / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "sync": self.sync_id,
            "destination": self.destination,
            "destination_type": self.destination_type,
            "sync_name": self.sync_name,
            "audience": self.audience,
            "mode": self.mode,
            "status": self.status,
            "run_id": self.run_id,
            "full_resync": self.full_resync,
            "resets_at": self.resets_at.isoformat() if self.resets_at else None,
            "plan": self.plan,
            "sent": self.sent,
            "confirmed": self.confirmed,
            "rejected": self.rejected,
            "rejections": self.rejections,
            "error": self.error,
            "seconds": round(self.seconds, 3),
            "records_per_s": round(self.records_per_s, 1),
            "requests": self.requests,
            "retries": self.retries,
            "throttled": self.throttled,
        }


def plan_summary(plan: Plan, blocked: str | None) -> dict[str, Any]:
    return {
        "audience_size": plan.audience_size,
        "holdout_size": plan.holdout_size,
        "eligible_size": plan.eligible_size,
        "ineligible": plan.ineligible,
        "identifier": plan.identifier,
        "consent": plan.consent,
        "destination_size": plan.destination_size,
        "add": plan.adds,
        "update": plan.updates,
        "remove": plan.removes,
        "samples": plan.samples,
        "blocked": blocked,
    }


def safety_violation(plan: Plan, safety: SafetyConfig, mode: str) -> str | None:
    """Why apply must not run without --allow-large-removals, or None."""
    if mode != "mirror" or plan.destination_size == 0:
        return None
    if plan.eligible_size == 0 and not safety.allow_empty:
        return (
            f"the audience is empty (0 eligible members) but the destination holds "
            f"{plan.destination_size} records from earlier runs; mirroring would remove them all"
        )
    percent = 100.0 * plan.removes / plan.destination_size
    if plan.removes and percent > safety.max_removal_percent:
        return (
            f"would remove {plan.removes} of the destination's {plan.destination_size} records "
            f"({percent:.1f}%, limit {safety.max_removal_percent:g}%)"
        )
    return None


EXIT_OK, EXIT_FAILED, EXIT_REJECTIONS, EXIT_DEFERRED = 0, 1, 3, 4
FAILED_STATUSES = frozenset({"failed", "blocked", "locked", "cancelled"})


def exit_code(outcomes: list[SyncOutcome]) -> int:
    """The process exit code for these outcomes (the worst one wins):

    1 any sync failed, was blocked by a safety limit, locked by another run or cancelled;
    4 a destination's quota ran out: the sync stopped cleanly and the next run resumes
    (nothing lost, nothing to fix; schedule the next run after the reset);
    3 every sync finished, some records were rejected by the destination;
    0 every record confirmed.
    """
    if any(o.status in FAILED_STATUSES for o in outcomes):
        return EXIT_FAILED
    if any(o.status == "deferred" for o in outcomes):
        return EXIT_DEFERRED
    if any(o.status == "partial" for o in outcomes):
        return EXIT_REJECTIONS
    return EXIT_OK
