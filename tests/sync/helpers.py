"""Fixture marts, fixture audiences and an in-memory connector for the sync engine tests."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar, Literal

import duckdb
from sqlglot import exp

from cdpkit.destinations.base import (
    Batch,
    BatchResult,
    Destination,
    PlanInfo,
    RateLimit,
    RunSummary,
)
from cdpkit.destinations.errors import (
    BatchRejected,
    QuotaExhausted,
    TerminalError,
    TransientError,
)
from cdpkit.project import Target
from cdpkit.sync.config import DestinationConfig
from cdpkit.sync.engine import run_jobs
from cdpkit.sync.jobs import EngineOptions, SyncJob, SyncOutcome
from cdpkit.sync.membership import fixture_membership
from cdpkit.warehouse import Warehouse

CUSTOMER_COLUMNS = (
    ("customer_id", "varchar"),
    ("email", "varchar"),
    ("phone", "varchar"),
    ("first_name", "varchar"),
    ("last_name", "varchar"),
    ("city", "varchar"),
    ("country", "varchar"),
    ("first_seen_at", "timestamp"),
    ("last_seen_at", "timestamp"),
    ("is_anonymous", "boolean"),
    ("lifecycle_stage", "varchar"),
    ("order_count", "integer"),
    ("total_revenue", "decimal(18,2)"),
    ("first_order_at", "timestamp"),
    ("last_order_at", "timestamp"),
    ("consent_marketing", "boolean"),
    ("consent_advertising", "boolean"),
)


@dataclass(frozen=True)
class Person:
    customer_id: str
    email: str | None
    first_name: str | None = "Pat"
    total_revenue: Decimal | None = Decimal("150.00")
    consent_marketing: bool = True
    consent_advertising: bool = False
    phone: str | None = None

    def row(self) -> tuple[Any, ...]:
        seen = dt.datetime(2026, 1, 1)
        return (
            self.customer_id,
            self.email,
            self.phone,
            self.first_name,
            "Doe",
            "Paris",
            "FR",
            seen,
            seen,
            False,
            "customer",
            1,
            self.total_revenue,
            seen,
            seen,
            self.consent_marketing,
            self.consent_advertising,
        )


def people(n: int, start: int = 1, **overrides: Any) -> list[Person]:
    """c0001 … with distinct emails and revenue 100 + i."""
    return [
        Person(
            customer_id=f"c{i:04d}",
            email=f"user{i:04d}@example.com",
            first_name=f"Name{i}",
            total_revenue=Decimal(100 + i),
            **overrides,
        )
        for i in range(start, start + n)
    ]


def duckdb_warehouse(path: Path, schema: str = "main") -> Warehouse:
    target = Target(name="dev", type="duckdb", settings={"path": str(path), "schema": schema})
    return Warehouse(target, duckdb.connect(str(path)), location=str(path))


def _q(name: str) -> str:
    return exp.to_identifier(name, quoted=True).sql()


def write_customers(
    wh: Warehouse, schema: str, persons: Sequence[Person], table: str = "customers"
) -> None:
    """(Re)create the customers mart (all contract columns) and customer_identifiers."""
    full = f"{_q(schema)}.{_q(table)}"
    wh.execute(f"create schema if not exists {_q(schema)}")
    wh.execute(f"drop table if exists {full}")
    columns = ", ".join(f"{_q(n)} {t}" for n, t in CUSTOMER_COLUMNS)
    wh.execute(f"create table {full} ({columns})")
    ph = "?" if wh.dialect == "duckdb" else "%s"
    if persons:
        _insert_many(wh, full, len(CUSTOMER_COLUMNS), [p.row() for p in persons], ph)
    if table == "customers":
        ids = f"{_q(schema)}.{_q('customer_identifiers')}"
        wh.execute(f"drop table if exists {ids}")
        wh.execute(
            f"create table {ids} as select customer_id, 'email' as identifier_type, "
            f"email as identifier_value from {full} where email is not null"
        )


def _insert_many(
    wh: Warehouse, table: str, width: int, rows: list[tuple[Any, ...]], ph: str
) -> None:
    for start in range(0, len(rows), 500):
        chunk = rows[start : start + 500]
        values = ", ".join("(" + ", ".join([ph] * width) + ")" for _ in chunk)
        wh.execute(f"insert into {table} values {values}", [v for row in chunk for v in row])


def write_members(
    wh: Warehouse,
    schema: str,
    table: str,
    persons: Sequence[Person],
    *,
    holdout: Iterable[str] = (),
) -> None:
    """A fixture audience: customer_id, email, first_name, total_revenue, in_holdout."""
    full = f"{_q(schema)}.{_q(table)}"
    held = set(holdout)
    wh.execute(f"drop table if exists {full}")
    wh.execute(
        f"create table {full} (customer_id varchar, email varchar, first_name varchar, "
        "total_revenue decimal(18,2), in_holdout boolean)"
    )
    ph = "?" if wh.dialect == "duckdb" else "%s"
    rows = [
        (p.customer_id, p.email, p.first_name, p.total_revenue, p.customer_id in held)
        for p in persons
    ]
    if rows:
        _insert_many(wh, full, 5, rows, ph)


# -- an in-memory connector -------------------------------------------------------------------
class MemoryConfig(DestinationConfig):
    type: Literal["memory"]


@dataclass
class MemoryStore:
    """What the in-memory destination holds, plus scripted behaviour (shared across threads)."""

    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, list[str]]] = field(default_factory=list)
    reject: dict[str, str] = field(default_factory=dict)  # key -> reason (per record)
    poison: dict[str, str] = field(default_factory=dict)  # key -> reason (whole batch refused)
    transient: int = 0  # fail the next n calls with a transient error
    transient_retry_after: float = 0.0
    terminal_after: int | None = None  # calls before a terminal error
    preexisting: set[str] = field(default_factory=set)
    ids: bool = False
    closed: list[RunSummary] = field(default_factory=list)
    opened: list[PlanInfo] = field(default_factory=list)
    quota_after: int | None = None  # calls before the daily quota runs out
    quota_resets_at: dt.datetime | None = None
    check_transient: int = 0  # fail the next n check() calls with a transient error
    check_fails: str | None = None  # every check() fails terminally with this message
    check_retry_after: float = 0.0  # the Retry-After of check_transient failures
    open_transient: int = 0  # fail the next n open() calls with a transient error
    checks: int = 0
    removed: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # key, fields
    lock: threading.Lock = field(default_factory=threading.Lock)


class MemoryDestination(Destination):
    type = "memory"
    config_model = MemoryConfig
    max_batch_size = 100
    rate_limit: ClassVar[RateLimit | None] = None
    max_concurrency = 2
    uses_http = False
    removals_with_fields = True
    store: ClassVar[MemoryStore] = MemoryStore()

    def account_key(self) -> str:
        return f"memory:{id(self.store)}"

    def check(self) -> None:
        s = self.store
        with s.lock:
            s.checks += 1
            if s.check_transient > 0:
                s.check_transient -= 1
                raise TransientError(
                    "429 from memory check", retry_after=s.check_retry_after, throttled=True
                )
            if s.check_fails:
                raise TerminalError(s.check_fails)
            self._quota()

    def open(self, plan: PlanInfo) -> None:
        s = self.store
        with s.lock:
            if s.open_transient > 0:
                s.open_transient -= 1
                raise TransientError("503 from memory open", retry_after=0.0)
        self.store.opened.append(plan)

    def close(self, summary: RunSummary) -> None:
        self.store.closed.append(summary)

    def upsert(self, batch: Batch) -> BatchResult:
        return self._call(batch)

    def remove(self, batch: Batch) -> BatchResult:
        return self._call(batch)

    def _call(self, batch: Batch) -> BatchResult:
        s = self.store
        with s.lock:
            self._quota()
            s.calls.append((batch.operation, batch.keys))
            if s.terminal_after is not None:
                if s.terminal_after <= 0:
                    raise TerminalError("credentials revoked; reconnect the account")
                s.terminal_after -= 1
            if s.transient > 0:
                s.transient -= 1
                raise TransientError("503 from memory", retry_after=s.transient_retry_after)
            poisoned = [k for k in batch.keys if k in s.poison]
            if poisoned:
                raise BatchRejected("; ".join(s.poison[k] for k in poisoned))
            rejected = {k: s.reject[k] for k in batch.keys if k in s.reject}
            present = set()
            for r in batch.records:
                if r.key in rejected:
                    continue
                if batch.operation == "remove":
                    s.records.pop(r.key, None)
                    s.removed.append((r.key, dict(r.fields)))
                else:
                    if r.key in s.preexisting and r.key not in s.records:
                        present.add(r.key)
                    s.records[r.key] = dict(r.fields)
            ids = {r.key: f"id-{r.key}" for r in batch.records if s.ids and r.key not in rejected}
            return BatchResult(
                rejected=rejected, destination_ids=ids, already_present=frozenset(present)
            )

    def _quota(self) -> None:
        """Called with the store's lock held."""
        s = self.store
        if s.quota_after is None:
            return
        if s.quota_after <= 0:
            raise QuotaExhausted(
                "the memory account's daily quota is used up; buy more or wait",
                resets_at=s.quota_resets_at,
            )
        s.quota_after -= 1


def memory_job(
    store: MemoryStore,
    *,
    schema: str,
    members: str = "members",
    destination: str = "mem",
    sync: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
    customers: bool = True,
    suppression: tuple[exp.Query, ...] = (),
) -> SyncJob:
    """A job syncing the fixture audience table `members` to a MemoryDestination on `store`."""
    cls = type("BoundMemory", (MemoryDestination,), {"store": store})
    sync_data = {
        "audience": "fixture",
        "mode": "mirror",
        "identifier": "email",
        "mapping": {"email": "email", "name": "first_name", "ltv": "total_revenue"},
        **(sync or {}),
    }
    cfg = MemoryConfig.model_validate({"type": "memory", "syncs": [sync_data], **(config or {})})
    membership = fixture_membership(
        "fixture",
        members,
        ["email", "first_name", "total_revenue"],
        schema=schema,
        holdout_column="in_holdout",
    )
    return SyncJob(
        destination=destination,
        config=cfg,
        sync=cfg.syncs[0],
        connector=cls,
        membership=membership,
        customers=exp.table_("customers", db=schema, quoted=True) if customers else None,
        suppression=suppression,
    )


def run(wh: Warehouse, *jobs: SyncJob, **options: Any) -> list[SyncOutcome]:
    options.setdefault("project_root", Path.cwd())
    return run_jobs(wh, list(jobs), EngineOptions(**options))


def with_sync(job: SyncJob, **changes: Any) -> SyncJob:
    sync = type(job.sync).model_validate({**job.sync.model_dump(exclude_unset=True), **changes})
    return replace(job, sync=sync)


def state_rows(wh: Warehouse, sync_id: str) -> dict[str, tuple[Any, ...]]:
    ph = "?" if wh.dialect == "duckdb" else "%s"
    rows = wh.fetchall(
        "select record_key, customer_id, field_hash, destination_id, owned from cdpkit.sync_state "
        f"where sync_id = {ph}",
        [sync_id],
    )
    return {r[0]: r[1:] for r in rows}


def expected_fields(p: Person) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if p.email is not None:
        out["email"] = p.email
    if p.first_name is not None:
        out["name"] = p.first_name
    if p.total_revenue is not None:
        out["ltv"] = p.total_revenue
    return out
