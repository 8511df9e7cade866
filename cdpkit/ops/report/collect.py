"""What the status page shows, read from the warehouse in one pass (small aggregates only).

Missing tables are normal (marts not built yet, no sync ever run): that part is left empty.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlglot import exp

from cdpkit.ops.heartbeat import Beat, Liveness, liveness, read_beats
from cdpkit.ops.state import ensure_tables
from cdpkit.project import Project
from cdpkit.sync import runlog
from cdpkit.sync.redact import redact
from cdpkit.sync.sql import STATE_SCHEMA, col, count_if, count_star, lit, render, table
from cdpkit.warehouse import Warehouse, connect

CLUSTER_BUCKETS = ((1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 10), (11, 20), (21, 50), (51, None))
MAX_RUNS = 2000
MAX_POINTS = 400  # per audience, the latest


@dataclass(frozen=True)
class IdentityStats:
    customers: int
    anonymous: int
    identifiers: list[tuple[str, int]]
    cluster_sizes: list[tuple[str, int]]
    blocked: list[tuple[str, int]] | None  # (type: reason, count); None: model not built


@dataclass(frozen=True)
class AudienceSeries:
    name: str
    points: list[tuple[dt.datetime, int]]

    @property
    def latest(self) -> int | None:
        return self.points[-1][1] if self.points else None


@dataclass(frozen=True)
class RunPoint:
    run_id: str
    sync_id: str
    status: str
    started_at: dt.datetime
    seconds: float | None
    confirmed: int
    rejected: int
    error: str | None

    @property
    def records_per_s(self) -> float | None:
        if not self.seconds or self.seconds <= 0:
            return None
        return (self.confirmed + self.rejected) / self.seconds


@dataclass
class ReportData:
    project: str
    target: str
    generated_at: dt.datetime
    identity: IdentityStats | None = None
    audiences: list[AudienceSeries] = field(default_factory=list)
    runs: list[RunPoint] = field(default_factory=list)  # oldest first
    rejection_reasons: list[tuple[str, int]] = field(default_factory=list)
    schedulers: list[tuple[Beat, Liveness]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def last_runs(self) -> list[RunPoint]:
        """The latest run of each sync, by sync id."""
        latest: dict[str, RunPoint] = {}
        for run in self.runs:
            latest[run.sync_id] = run
        return [latest[k] for k in sorted(latest)]


def collect(project: Project, now: dt.datetime | None = None) -> ReportData:
    now = now or dt.datetime.now(dt.UTC)
    target = project.target()
    data = ReportData(
        project=project.root.name, target=f"{target.name} ({target.type})", generated_at=now
    )
    with connect(project) as wh:
        ensure_tables(wh)
        data.identity = identity_stats(wh)
        if data.identity is None:
            data.notes.append("The identity marts are not built yet (run `cdpkit build`).")
        data.audiences = audience_series(wh)
        data.runs = run_points(wh)
        data.rejection_reasons = rejection_reasons(wh)
        data.schedulers = [(b, liveness(b, now)) for b in read_beats(wh)]
    return data


def _exists(wh: Warehouse, name: str, schema: str) -> bool:
    return wh.table_columns(name, schema) is not None


def _scalar(wh: Warehouse, query: exp.Query) -> int:
    row = wh.fetchone(render(query, wh.dialect))
    return int(row[0] or 0) if row else 0


def identity_stats(wh: Warehouse) -> IdentityStats | None:
    schema = wh.schema
    if not (_exists(wh, "customers", schema) and _exists(wh, "customer_identifiers", schema)):
        return None
    customers = table("customers", schema)
    ids = table("customer_identifiers", schema)
    total = _scalar(wh, exp.select(count_star()).from_(customers))
    anonymous = _scalar(
        wh,
        exp.select(count_if(exp.func("coalesce", col("is_anonymous"), exp.false()))).from_(
            customers
        ),
    )
    per_type = (
        exp.select(col("identifier_type"), count_star().as_("n"))
        .from_(ids)
        .group_by(col("identifier_type"))
        .order_by(exp.Ordered(this=col("n"), desc=True), col("identifier_type"))
    )
    identifiers = [(str(t), int(n)) for t, n in wh.fetchall(render(per_type, wh.dialect))]
    sizes = (
        exp.select(col("customer_id"), count_star().as_("size"))
        .from_(ids)
        .group_by(col("customer_id"))
    )
    histogram = (
        exp.select(col("size"), count_star().as_("n"))
        .from_(exp.Subquery(this=sizes, alias=exp.TableAlias(this=exp.to_identifier("s"))))
        .group_by(col("size"))
    )
    counts = {int(size): int(n) for size, n in wh.fetchall(render(histogram, wh.dialect))}
    return IdentityStats(
        customers=total,
        anonymous=anonymous,
        identifiers=identifiers,
        cluster_sizes=bucket(counts),
        blocked=blocked_links(wh),
    )


def bucket(counts: dict[int, int]) -> list[tuple[str, int]]:
    """Customers per number of identifiers, in fixed buckets (1, 2, … 6–10, 51+)."""
    out: list[tuple[str, int]] = []
    for lo, hi in CLUSTER_BUCKETS:
        n = sum(v for k, v in counts.items() if k >= lo and (hi is None or k <= hi))
        label = str(lo) if hi == lo else (f"{lo}–{hi}" if hi else f"{lo}+")
        out.append((label, n))
    while out and out[-1][1] == 0 and len(out) > 5:
        out.pop()
    return out


def blocked_links(wh: Warehouse) -> list[tuple[str, int]] | None:
    if not _exists(wh, "identity_blocked_links", wh.schema):
        return None
    query = (
        exp.select(col("block_type"), col("reason"), count_star().as_("n"))
        .from_(table("identity_blocked_links", wh.schema))
        .group_by(col("block_type"), col("reason"))
        .order_by(exp.Ordered(this=col("n"), desc=True))
    )
    return [(f"{t}: {r}", int(n)) for t, r, n in wh.fetchall(render(query, wh.dialect))]


def audience_series(wh: Warehouse) -> list[AudienceSeries]:
    """Audience size at each sync run (cdpkit.audience_snapshots), latest MAX_POINTS each."""
    query = (
        exp.select(col("audience"), col("measured_at"), col("members"))
        .from_(table("audience_snapshots"))
        .order_by(col("audience"), col("measured_at"))
    )
    by_name: dict[str, list[tuple[dt.datetime, int]]] = {}
    for name, measured, members in wh.fetchall(render(query, wh.dialect)):
        by_name.setdefault(str(name), []).append((measured, int(members)))
    return [AudienceSeries(n, pts[-MAX_POINTS:]) for n, pts in sorted(by_name.items())]


def run_points(wh: Warehouse) -> list[RunPoint]:
    rows = runlog.list_runs(wh, limit=MAX_RUNS)
    points = []
    for row in reversed(rows):
        counts = runlog.counts_of(row)
        started, finished = row["started_at"], row["finished_at"]
        points.append(
            RunPoint(
                run_id=str(row["run_id"]),
                sync_id=str(row["sync_id"]),
                status=str(row["status"]),
                started_at=started,
                seconds=(finished - started).total_seconds() if started and finished else None,
                confirmed=sum(counts[f"confirmed_{op}"] for op in ("add", "update", "remove")),
                rejected=sum(counts[f"rejected_{op}"] for op in ("add", "update", "remove")),
                error=redact(str(row["error"])) if row["error"] else None,
            )
        )
    return points


def rejection_reasons(wh: Warehouse, limit: int = 10) -> list[tuple[str, int]]:
    log = table("sync_record_log", STATE_SCHEMA)
    query = (
        exp.select(col("reason"), count_star().as_("n"))
        .from_(log)
        .where(col("outcome").eq(lit("rejected")))
        .group_by(col("reason"))
        .order_by(exp.Ordered(this=col("n"), desc=True), col("reason"))
        .limit(limit)
    )
    return [
        (redact(str(r or "(no reason)")), int(n)) for r, n in wh.fetchall(render(query, wh.dialect))
    ]
