"""The small destination interface every connector implements, and the values it exchanges.

A connector is one module: a config model (subclass of `DestinationConfig`, secrets typed
`Secret`), its API limits as class attributes, and a handful of methods. The engine owns
diffing, batching, concurrency, retries, rate limiting, checkpoints, metrics and redaction;
a connector never touches sync state.

    class AcmeDestination(Destination):
        type = "acme"
        config_model = AcmeConfig
        max_batch_size = 100
        rate_limit = RateLimit(per_second=10, burst=10)

        def check(self) -> None: ...                       # one cheap authenticated call
        def upsert(self, batch: Batch) -> BatchResult: ...  # idempotent by record key
        def remove(self, batch: Batch) -> BatchResult: ...

Failures: raise `TransientError` / `TerminalError` / `BatchRejected` (cdpkit.destinations.errors)
or return per-record rejections in `BatchResult.rejected`. HTTP goes through `self.http`, which
the engine builds with the destination's rate limiter, timeouts and failure classification.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Literal, NamedTuple

from cdpkit.sync.config import DestinationConfig

if TYPE_CHECKING:
    from cdpkit.sync.http import HttpClient

Operation = Literal["upsert", "remove"]
Change = Literal["add", "update", "remove"]


@dataclass(frozen=True)
class RateLimit:
    """A token bucket: `per_second` sustained requests, up to `burst` at once.

    With `window_s`, a rolling window instead: at most `per_second * window_s` requests in any
    `window_s` seconds (`RateLimit.rolling(190, 10)` for HubSpot's 10-second window).
    """

    per_second: float
    burst: int = 1
    window_s: float | None = None

    @classmethod
    def rolling(cls, requests: int, window_s: float) -> RateLimit:
        """At most `requests` in any rolling `window_s` seconds."""
        return cls(per_second=requests / window_s, burst=requests, window_s=window_s)


class Record(NamedTuple):
    """One record to send. `fields` are destination field names -> warehouse values.

    Removals of a connector with `removals_with_fields` carry the fields as last confirmed by
    the destination (from the sync state; JSON types, decimals as Decimal), or `{}` when the
    state predates that (connectors then match on `key` alone); other removals carry `{}`.

    An immutable value like the frozen dataclasses elsewhere, as a NamedTuple because the
    engine builds millions of them (several times cheaper to construct).
    """

    key: str
    change: Change
    fields: Mapping[str, Any] = MappingProxyType({})
    customer_id: str | None = None
    destination_id: str | None = None
    seq: int = 0
    fingerprint: str | None = None  # hash of the mapped fields (from the plan), when known

    def json_fields(self) -> dict[str, Any]:
        """`fields` with values converted to JSON types."""
        return {k: jsonable(v) for k, v in self.fields.items()}


@dataclass(frozen=True)
class Batch:
    """Records of one operation for one sync; `idempotency_key` is stable across retries."""

    sync_id: str
    operation: Operation
    records: tuple[Record, ...]

    def __len__(self) -> int:
        return len(self.records)

    @cached_property
    def idempotency_key(self) -> str:
        """Same records with the same data -> same key, also after a crash and re-plan."""
        parts = [f"{self.sync_id}\x1f{self.operation}"]
        for record in self.records:
            payload = record.fingerprint
            if payload is None:
                payload = json.dumps(record.json_fields(), sort_keys=True, separators=(",", ":"))
            parts.append(f"\x1e{record.key}\x1f{record.change}\x1f{payload}")
        digest = hashlib.sha256("".join(parts).encode())
        return str(uuid.UUID(bytes=digest.digest()[:16]))

    def halves(self) -> tuple[Batch, Batch]:
        middle = len(self.records) // 2
        return (
            Batch(self.sync_id, self.operation, self.records[:middle]),
            Batch(self.sync_id, self.operation, self.records[middle:]),
        )

    @property
    def keys(self) -> list[str]:
        return [r.key for r in self.records]


@dataclass(frozen=True)
class BatchResult:
    """What the destination confirmed. Every record not in `rejected` counts as confirmed.

    `destination_ids`: ids the destination assigned (kept in sync state, handed back on later
    updates/removals as `Record.destination_id`). `already_present`: keys the destination
    already had before this sync added them; mirror mode never removes those.
    """

    rejected: Mapping[str, str] = field(default_factory=dict)
    destination_ids: Mapping[str, str] = field(default_factory=dict)
    already_present: frozenset[str] = frozenset()

    @classmethod
    def ok(cls) -> BatchResult:
        return cls()


@dataclass(frozen=True)
class SyncContext:
    """What a connector knows about the sync it serves."""

    sync_id: str
    destination: str
    sync_name: str
    audience: str
    mode: str
    list_name: str
    identifier: str
    fields: tuple[str, ...]
    run_id: str
    project_root: Path
    config: Any = None  # the SyncConfig (or a connector's subclass of it) of this sync


@dataclass(frozen=True)
class PlanInfo:
    """Handed to `open()`: what this run will do.

    `full_resync`: every current member is sent (as an add or update) whatever the state says,
    e.g. `cdpkit sync --full-resync`. A connector with replace semantics (Meta `usersreplace`)
    rebuilds the list from these records in `mirror` mode and sets `replaces_on_full_resync`.
    """

    adds: int
    updates: int
    removes: int
    audience_size: int
    full_resync: bool = False


@dataclass(frozen=True)
class RunSummary:
    """Handed to `close()`: how the run went."""

    status: str
    confirmed: int
    rejected: int


class Destination:
    """Base class of connectors; see the module docstring."""

    type: ClassVar[str]
    config_model: ClassVar[type[DestinationConfig]]
    description: ClassVar[str] = ""
    max_batch_size: ClassVar[int] = 1000
    default_batch_size: ClassVar[int | None] = None
    rate_limit: ClassVar[RateLimit | None] = RateLimit(per_second=10, burst=10)
    max_concurrency: ClassVar[int] = 4
    default_consent: ClassVar[str | None] = None
    supports_remove: ClassVar[bool] = True
    uses_http: ClassVar[bool] = True
    replaces_on_full_resync: ClassVar[bool] = False
    """True when a full resync of a `mirror` sync replaces the destination's list only if the
    run completes (confirmations of an unfinished resync are then void: the engine repeats the
    resync). Other modes never drop members, so their full resyncs only add and update."""
    removals_with_fields: ClassVar[bool] = False
    """True when removals should carry the fields last confirmed (the sync state keeps them as
    JSON for this connector's syncs; e.g. multi-key ad audiences match removals on them)."""

    def __init__(self, config: DestinationConfig, sync: SyncContext, http: HttpClient) -> None:
        self.config = config
        self.sync = sync
        self.http = http

    @classmethod
    def rate_limit_for(cls, config: DestinationConfig) -> RateLimit | None:
        """The account's published limit for this config (e.g. by pricing tier).

        The engine paces every request of the account with it, unless the destination file
        sets `rate_limit:` itself. Default: the class attribute `rate_limit`.
        """
        return cls.rate_limit

    @classmethod
    def max_batch_size_for(cls, config: DestinationConfig) -> int:
        """The most records one batch may hold for this config (default `max_batch_size`)."""
        return cls.max_batch_size

    @classmethod
    def batch_size_for(cls, config: DestinationConfig) -> int:
        """Records per batch: the file's `batch_size`, else the connector's default, within
        `max_batch_size_for(config)`."""
        limit = cls.max_batch_size_for(config)
        wanted = config.batch_size or cls.default_batch_size or limit
        return max(1, min(wanted, limit))

    def account_key(self) -> str:
        """Which rate-limit bucket this instance draws from (one per destination account)."""
        base = self.config.base_url.resolve() if self.config.base_url else ""
        return f"{self.type}:{base}"

    def check(self) -> None:
        """One cheap authenticated call; raise TerminalError with an actionable message."""

    def open(self, plan: PlanInfo) -> None:
        """Prepare the run (find or create the list, start a job). Optional."""

    def upsert(self, batch: Batch) -> BatchResult:
        raise NotImplementedError

    def remove(self, batch: Batch) -> BatchResult:
        raise NotImplementedError

    def close(self, summary: RunSummary) -> None:
        """Finish the run (finalise a job). Called once, whatever the outcome. Optional."""


def jsonable(value: Any) -> Any:
    """A warehouse value as a JSON type (decimals as numbers, times as ISO 8601)."""
    if type(value) is decimal.Decimal:  # the common case first (json.dumps' `default`)
        return int(value) if value == value.to_integral_value() else float(value)
    if value is None or isinstance(value, (bool, int, float, str)):  # noqa: UP038 - faster
        return value
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    return str(value)
