"""Commit delivered batches to the sync state: group commit, a few statements per group.

Only confirmed records change `cdpkit.sync_state`: adds are inserted (owned unless the
destination already had them), updates get the new hash and fields, removals are deleted.
Rejected and undelivered records leave the state as it was, so the next run's diff sends them
again with their latest data; their rejection reasons go to the outcome log in the same
transaction. Confirmed records are logged in one set-based statement when the run ends (per
batch it would double the cost of a checkpoint); after a crash, `sync_state.run_id` still says
which run confirmed each record. Run counters are flushed at most once a second and at the
end: they are informational, the state is what counts.

Group commit: the engine hands over every delivery that came back since its last commit at
once. The confirmed `__seq` numbers of all of them, merged into intervals, go into one INSERT
(adds), one UPDATE (updates) and one DELETE (removals) against the plan table, so the cost of a
commit does not grow with the number of batches in it. A lone statement runs in autocommit
(atomic by itself); several run in one transaction. The statements are rendered once per run
for 1, 2, 4 … 64 intervals (unused slots repeat the last interval) and take the bounds as
parameters.
"""

from __future__ import annotations

import datetime as dt
import operator
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlglot import exp

from cdpkit.sync import runlog
from cdpkit.sync.delivery import Delivery
from cdpkit.sync.sql import Statement, col, lit, param, render, table
from cdpkit.warehouse import Warehouse

STATE_COLUMNS = [
    "sync_id",
    "record_key",
    "customer_id",
    "field_hash",
    "destination_id",
    "owned",
    "synced_at",
    "run_id",
    "fields",
]
COUNTER_FLUSH_S = 1.0
_CHANGE = operator.attrgetter("change")
SLOTS = (1, 2, 4, 8, 16, 32, 64)  # intervals per rendered statement

Condition = Callable[[str | None], exp.Expression]  # table alias -> the __seq condition


@dataclass(frozen=True)
class CheckpointCounts:
    sent: Counter[str]
    confirmed: Counter[str]
    rejected: Counter[str]


def commit(wh: Warehouse, statements: Sequence[Statement]) -> None:
    """Run `statements` atomically: a lone one in autocommit, several in one transaction."""
    if not statements:
        return
    if len(statements) == 1:
        _run(wh, statements[0])
        return
    with wh.transaction():
        for statement in statements:
            _run(wh, statement)


def _run(wh: Warehouse, statement: Statement) -> None:
    if statement.many:
        wh.executemany(statement.sql, list(statement.params))
    else:
        wh.execute(statement.sql, list(statement.params))


@dataclass
class Checkpointer:
    """Turns one run's deliveries into checkpoint statements (`commit` runs them)."""

    wh: Warehouse
    sync_id: str
    run_id: str
    plan_table: str
    fields: Callable[[str | None], exp.Expression] | None = None  # alias -> JSON of the fields
    _sql: dict[tuple[str, int], str] = field(default_factory=dict)
    _pending: Counter[str] = field(default_factory=Counter)
    _flushed_at: float = field(default_factory=time.monotonic)
    _confirmed: list[tuple[int, int]] = field(default_factory=list)  # merged at the end

    def statements(
        self, deliveries: Sequence[Delivery], now: dt.datetime
    ) -> tuple[list[Statement], list[CheckpointCounts]]:
        """The statements recording `deliveries` (of this run), and each one's counts."""
        out: list[Statement] = []
        counts: list[CheckpointCounts] = []
        seqs: list[int] = []
        intervals: list[tuple[int, int]] = []
        changes: Counter[str] = Counter()
        ids: dict[str, str] = {}
        present: list[str] = []
        rejected_rows: list[tuple[str, str | None, str, str]] = []
        for delivery in deliveries:
            records = delivery.batch.records
            confirmed = Counter(map(_CHANGE, delivery.confirmed))
            rejected: Counter[str] = Counter()
            if len(delivery.confirmed) == len(records) and records and not delivery.already_present:
                # Everything confirmed (the common case): one interval, no per-record work.
                intervals.append((records[0].seq, records[-1].seq))
            else:
                by_key = {r.key: r for r in records}
                rejected = Counter(by_key[k].change for k in delivery.rejected if k in by_key)
                seqs.extend(r.seq for r in delivery.confirmed)
                present.extend(
                    k for k in delivery.already_present if k in by_key and by_key[k].change == "add"
                )
                rejected_rows.extend(
                    (k, by_key[k].customer_id, by_key[k].change, reason)
                    for k, reason in delivery.rejected.items()
                    if k in by_key
                )
            counts.append(CheckpointCounts(confirmed + rejected, confirmed, rejected))
            changes.update(confirmed)
            ids.update(delivery.destination_ids)
            self._pending.update({f"sent_{op}": n for op, n in (confirmed + rejected).items()})
            self._pending.update({f"confirmed_{op}": n for op, n in confirmed.items()})
            self._pending.update({f"rejected_{op}": n for op, n in rejected.items()})
            self._pending.update({"requests": delivery.requests, "retries": delivery.retries})
        intervals = _merge(intervals + _intervals(sorted(seqs)))
        self._confirmed.extend(intervals)
        for start in range(0, len(intervals), SLOTS[-1]):
            chunk = intervals[start : start + SLOTS[-1]]
            slots = next(n for n in SLOTS if n >= len(chunk))
            bounds = [b for lo, hi in chunk + chunk[-1:] * (slots - len(chunk)) for b in (lo, hi)]
            if changes["add"]:
                out.append(
                    Statement(self._render("add", slots), [self.sync_id, now, self.run_id, *bounds])
                )
            if changes["update"]:
                out.append(
                    Statement(
                        self._render("update", slots), [now, self.run_id, self.sync_id, *bounds]
                    )
                )
            if changes["remove"]:
                out.append(Statement(self._render("remove", slots), [self.sync_id, *bounds]))
        if ids:
            out.extend(_destination_ids(self.wh, self.sync_id, ids))
        if present:
            out.append(_disown(self.wh, self.sync_id, present))
        if rejected_rows:
            out.append(
                runlog.rejected_statement(self.wh, self.run_id, self.sync_id, rejected_rows, now)
            )
        if time.monotonic() - self._flushed_at >= COUNTER_FLUSH_S:
            out.extend(self.flush())
        return out, counts

    def log_confirmed(self, now: dt.datetime) -> list[Statement]:
        """The outcome log rows of every record confirmed in this run."""
        intervals = _merge(self._confirmed)
        self._confirmed = []
        out: list[Statement] = []
        for start in range(0, len(intervals), 200):
            chunk = intervals[start : start + 200]
            condition = exp.or_(
                *[exp.Between(this=col("__seq"), low=lit(lo), high=lit(hi)) for lo, hi in chunk]
            )
            sql = runlog.log_confirmed_sql(self.wh.dialect, self.plan_table, condition)
            out.append(Statement(sql, [self.run_id, self.sync_id, now]))
        return out

    def flush(self, extra: dict[str, int] | None = None) -> list[Statement]:
        """The counts gathered so far, added to the run's row (nothing when there are none)."""
        if extra:
            self._pending.update(extra)
        statement = runlog.counts_statement(self.wh, self.run_id, dict(self._pending))
        self._pending.clear()
        self._flushed_at = time.monotonic()
        return [Statement(*statement)] if statement else []

    # -- internals ---------------------------------------------------------------------------
    def _render(self, kind: str, slots: int) -> str:
        sql = self._sql.get((kind, slots))
        if sql is None:
            sql = self._sql[(kind, slots)] = self._statement(kind, _ranges(slots))
        return sql

    def _statement(self, kind: str, condition: Condition) -> str:
        plan = table(self.plan_table, None)
        if kind == "add":
            query = (
                exp.select(
                    param(),
                    col("__key"),
                    col("__customer_id"),
                    col("__hash"),
                    col("__dest_id"),
                    exp.true(),
                    param(),
                    param(),
                    self._fields(None),
                )
                .from_(plan)
                .where(exp.and_(col("__op").eq(lit("add")), condition(None)))
            )
            columns = [exp.to_identifier(c, quoted=True) for c in STATE_COLUMNS]
            return render(exp.insert(query, table("sync_state"), columns=columns), self.wh.dialect)
        if kind == "update":
            update = exp.update(
                table("sync_state", alias="s"),
                {
                    "field_hash": col("__hash", "p"),
                    "customer_id": col("__customer_id", "p"),
                    "fields": self._fields("p"),
                    "synced_at": param(),
                    "run_id": param(),
                },
                from_=exp.From(this=table(self.plan_table, None, alias="p")),
                where=exp.and_(
                    col("sync_id", "s").eq(param()),
                    col("record_key", "s").eq(col("__key", "p")),
                    col("__op", "p").eq(lit("update")),
                    condition("p"),
                ),
            )
            return render(update, self.wh.dialect)
        if kind == "remove":
            keys = (
                exp.select(col("__key"))
                .from_(plan)
                .where(exp.and_(col("__op").eq(lit("remove")), condition(None)))
            )
            delete = exp.delete(
                table("sync_state"),
                where=exp.and_(col("sync_id").eq(param()), col("record_key").isin(query=keys)),
            )
            return render(delete, self.wh.dialect)
        raise ValueError(kind)

    def _fields(self, alias: str | None) -> exp.Expression:
        if self.fields is None:
            return exp.cast(exp.Null(), "text")
        return self.fields(alias)


def _ranges(slots: int) -> Condition:
    """`__seq BETWEEN ? AND ? OR …` for `slots` intervals (parenthesised)."""

    def condition(alias: str | None) -> exp.Expression:
        parts = [
            exp.Between(this=col("__seq", alias), low=param(), high=param()) for _ in range(slots)
        ]
        return exp.Paren(this=exp.or_(*parts)) if slots > 1 else parts[0]

    return condition


def _intervals(seqs: list[int]) -> list[tuple[int, int]]:
    """Sorted numbers as runs of consecutive ones: [1,2,3,7] -> [(1,3), (7,7)]."""
    out: list[tuple[int, int]] = []
    for s in seqs:
        if out and out[-1][1] >= s - 1:
            out[-1] = (out[-1][0], max(out[-1][1], s))
        else:
            out.append((s, s))
    return out


def _merge(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(intervals):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def _destination_ids(wh: Warehouse, sync_id: str, ids: dict[str, str]) -> list[Statement]:
    """UPDATEs joined to a VALUES list (not one statement per record)."""
    out: list[Statement] = []
    items = list(ids.items())
    for start in range(0, len(items), 5_000):
        chunk = items[start : start + 5_000]
        values = exp.values(
            [(param(), param()) for _ in chunk], alias="v", columns=["k", "dest_id"]
        )
        update = exp.update(
            table("sync_state", alias="s"),
            {"destination_id": col("dest_id", "v")},
            from_=exp.From(this=values),
            where=exp.and_(
                col("sync_id", "s").eq(param()), col("record_key", "s").eq(col("k", "v"))
            ),
        )
        params = [x for k, v in chunk for x in (k, str(v))]
        out.append(Statement(render(update, wh.dialect), [*params, sync_id]))
    return out


def _disown(wh: Warehouse, sync_id: str, keys: list[str]) -> Statement:
    update = exp.update(
        table("sync_state"),
        {"owned": exp.false()},
        where=exp.and_(
            col("sync_id").eq(param()), col("record_key").isin(*[param() for _ in keys])
        ),
    )
    return Statement(render(update, wh.dialect), [sync_id, *keys])
