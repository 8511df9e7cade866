"""Commit delivered batches to the sync state.

Only confirmed records change `cdpkit.sync_state`: adds are inserted (owned unless the
destination already had them), updates get the new hash, removals are deleted. Rejected and
undelivered records leave the state as it was, so the next run's diff sends them again with
their latest data; their rejection reasons go to the outcome log in the same transaction.
Confirmed records are logged in one set-based statement when the run ends (per batch it
would double the cost of a checkpoint); after a crash, `sync_state.run_id` still says which
run confirmed each record. Run counters are flushed at most once a second and at the end:
they are informational, the state is what counts.

The statements for the common case (a whole `__seq` range confirmed) are rendered once per
run and take the range as parameters.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from sqlglot import exp

from cdpkit.sync import runlog
from cdpkit.sync.delivery import Delivery
from cdpkit.sync.sql import col, lit, param, render, table
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
]
COUNTER_FLUSH_S = 1.0

Condition = Callable[[str | None], exp.Expression]  # table alias -> the __seq condition


@dataclass(frozen=True)
class CheckpointCounts:
    sent: Counter[str]
    confirmed: Counter[str]
    rejected: Counter[str]


class Checkpointer:
    """Writes one run's checkpoints (call `write` inside a transaction, `flush` at the end)."""

    def __init__(self, wh: Warehouse, *, sync_id: str, run_id: str, plan_table: str) -> None:
        self.wh = wh
        self.sync_id = sync_id
        self.run_id = run_id
        self.plan_table = plan_table
        self._range_sql = {
            kind: self._render(kind, _range_condition) for kind in ("add", "update", "remove")
        }
        self._pending: Counter[str] = Counter()
        self._flushed_at = time.monotonic()
        self._confirmed: list[tuple[int, int]] = []  # __seq intervals, merged at the end

    def write(self, delivery: Delivery, now: dt.datetime) -> CheckpointCounts:
        """Record one delivery (the caller holds the transaction)."""
        batch = delivery.batch
        by_key = {r.key: r for r in batch.records}
        confirmed = Counter(r.change for r in delivery.confirmed)
        rejected = Counter(by_key[k].change for k in delivery.rejected if k in by_key)
        sent = confirmed + rejected
        if delivery.confirmed:
            self._write_confirmed(delivery, confirmed, now)
        if delivery.destination_ids:
            _set_destination_ids(self.wh, self.sync_id, delivery.destination_ids)
        present = [k for k in delivery.already_present if k in by_key and by_key[k].change == "add"]
        if present:
            _disown(self.wh, self.sync_id, present)
        runlog.log_rejected(
            self.wh,
            self.run_id,
            self.sync_id,
            [
                (k, by_key[k].customer_id, by_key[k].change, reason)
                for k, reason in delivery.rejected.items()
                if k in by_key
            ],
            now,
        )
        self._pending.update({f"sent_{op}": n for op, n in sent.items()})
        self._pending.update({f"confirmed_{op}": n for op, n in confirmed.items()})
        self._pending.update({f"rejected_{op}": n for op, n in rejected.items()})
        self._pending.update({"requests": delivery.requests, "retries": delivery.retries})
        if time.monotonic() - self._flushed_at >= COUNTER_FLUSH_S:
            self.flush()
        return CheckpointCounts(sent, confirmed, rejected)

    def log_confirmed(self, now: dt.datetime) -> None:
        """Write the outcome log rows of every record confirmed in this run."""
        intervals = _merge(self._confirmed)
        self._confirmed = []
        for start in range(0, len(intervals), 200):
            chunk = intervals[start : start + 200]
            condition = exp.or_(
                *[exp.Between(this=col("__seq"), low=lit(lo), high=lit(hi)) for lo, hi in chunk]
            )
            sql = runlog.log_confirmed_sql(self.wh.dialect, self.plan_table, condition)
            self.wh.execute(sql, [self.run_id, self.sync_id, now])

    def flush(self, extra: dict[str, int] | None = None) -> None:
        """Add the counts gathered so far to the run's row."""
        if extra:
            self._pending.update(extra)
        runlog.add_counts(self.wh, self.run_id, dict(self._pending))
        self._pending.clear()
        self._flushed_at = time.monotonic()

    # -- internals ---------------------------------------------------------------------------
    def _write_confirmed(self, delivery: Delivery, changes: Counter[str], now: dt.datetime) -> None:
        seqs = [r.seq for r in delivery.batch.records]
        lo, hi = min(seqs), max(seqs)
        confirmed_seqs = {r.seq for r in delivery.confirmed}
        whole = hi - lo + 1 == len(seqs) and len(confirmed_seqs) == len(seqs)
        if whole:
            statements, window = self._range_sql, [lo, hi]
        else:
            kept = sorted(confirmed_seqs)

            def condition(alias: str | None) -> exp.Expression:
                return col("__seq", alias).isin(*[lit(s) for s in kept])

            statements = {k: self._render(k, condition) for k in ("add", "update", "remove")}
            window = []
        base = [self.sync_id]
        if changes["add"]:
            self.wh.execute(statements["add"], [*base, now, self.run_id, *window])
        if changes["update"]:
            self.wh.execute(statements["update"], [now, self.run_id, *base, *window])
        if changes["remove"]:
            self.wh.execute(statements["remove"], [*base, *window])
        self._confirmed.extend(_intervals(sorted(confirmed_seqs)))

    def _render(self, kind: str, condition: Condition) -> str:
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
                )
                .from_(plan)
                .where(exp.and_(condition(None), col("__op").eq(lit("add"))))
            )
            columns = [exp.to_identifier(c, quoted=True) for c in STATE_COLUMNS]
            return render(exp.insert(query, table("sync_state"), columns=columns), self.wh.dialect)
        if kind == "update":
            update = exp.update(
                table("sync_state", alias="s"),
                {
                    "field_hash": col("__hash", "p"),
                    "customer_id": col("__customer_id", "p"),
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


def _intervals(seqs: list[int]) -> list[tuple[int, int]]:
    """Sorted numbers as runs of consecutive ones: [1,2,3,7] -> [(1,3), (7,7)]."""
    out: list[tuple[int, int]] = []
    for s in seqs:
        if out and out[-1][1] == s - 1:
            out[-1] = (out[-1][0], s)
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


def _range_condition(alias: str | None) -> exp.Expression:
    return exp.Between(this=col("__seq", alias), low=param(), high=param())


def _set_destination_ids(wh: Warehouse, sync_id: str, ids: dict[str, str]) -> None:
    """One UPDATE joined to a VALUES list (not one statement per record)."""
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
        params = [x for k, v in chunk for x in (k, v)]
        wh.execute(render(update, wh.dialect), [*params, sync_id])


def _disown(wh: Warehouse, sync_id: str, keys: list[str]) -> None:
    update = exp.update(
        table("sync_state"),
        {"owned": exp.false()},
        where=exp.and_(
            col("sync_id").eq(param()), col("record_key").isin(*[param() for _ in keys])
        ),
    )
    wh.execute(render(update, wh.dialect), [sync_id, *keys])
