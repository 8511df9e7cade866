"""Run history: `cdpkit.sync_runs` rows (one per run) and the per-record outcome log."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from cdpkit.errors import CdpkitError
from cdpkit.sync.lease import utcnow
from cdpkit.sync.sql import Statement, col, lit, param, render, table
from cdpkit.sync.state import COUNTS, TABLES
from cdpkit.warehouse import Warehouse

RUN_COLUMNS = [c.name for c in TABLES["sync_runs"][0]]
MAX_REASON = 1000


def new_run_id(now: dt.datetime | None = None) -> str:
    """Sortable and unique: `20260101T120000Z-1a2b3c`."""
    when = now or utcnow()
    return f"{when:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def start(wh: Warehouse, values: Mapping[str, Any]) -> None:
    """Insert the row of a run that is starting (status 'running')."""
    names = list(values)
    insert = exp.insert(
        exp.select(*[param() for _ in names]),
        table("sync_runs"),
        columns=[exp.to_identifier(n, quoted=True) for n in names],
    )
    wh.execute(render(insert, wh.dialect), list(values.values()))


def add_counts(wh: Warehouse, run_id: str, deltas: Mapping[str, int]) -> None:
    """counter += delta for each nonzero delta."""
    statement = counts_statement(wh, run_id, deltas)
    if statement is not None:
        wh.execute(*statement)


def counts_statement(
    wh: Warehouse, run_id: str, deltas: Mapping[str, int]
) -> tuple[str, list[Any]] | None:
    """(sql, params) adding each nonzero delta to the run's counters; None when all are 0."""
    changes = {k: v for k, v in deltas.items() if v}
    if not changes:
        return None
    assignments = {
        name: exp.Add(this=exp.func("coalesce", col(name), lit(0)), expression=param())
        for name in sorted(changes)
    }
    update = exp.update(table("sync_runs"), assignments, where=col("run_id").eq(param()))
    key = (wh.dialect, tuple(sorted(changes)))
    sql = _COUNTS_SQL.get(key)
    if sql is None:
        sql = _COUNTS_SQL[key] = render(update, wh.dialect)
    return sql, [*(changes[name] for name in sorted(changes)), run_id]


_COUNTS_SQL: dict[tuple[str, tuple[str, ...]], str] = {}


def finish(wh: Warehouse, run_id: str, values: Mapping[str, Any]) -> None:
    """Set the final status, finish time, error and metrics of a run."""
    update = exp.update(
        table("sync_runs"),
        {name: param() for name in values},
        where=col("run_id").eq(param()),
    )
    wh.execute(render(update, wh.dialect), [*values.values(), run_id])


def mark_interrupted(wh: Warehouse, sync_id: str, current_run: str) -> None:
    """Runs of this sync still 'running' were killed; say so (their confirmed work is kept)."""
    update = exp.update(
        table("sync_runs"),
        {"status": lit("interrupted"), "error": lit("the process stopped before the run finished")},
        where=exp.and_(
            col("sync_id").eq(param()), col("status").eq(lit("running")), col("run_id").neq(param())
        ),
    )
    wh.execute(render(update, wh.dialect), [sync_id, current_run])


def unfinished_full_resync(wh: Warehouse, sync_id: str) -> bool:
    """Whether the sync's latest full resync that sent anything did not finish (status other
    than success/partial): a connector with replace semantics discarded what it confirmed."""
    query = (
        exp.select(col("status"))
        .from_(table("sync_runs"))
        .where(
            exp.and_(
                col("sync_id").eq(param()),
                col("full_resync").eq(exp.true()),
                col("status").neq(lit("blocked")),
            )
        )
        .order_by(
            exp.Ordered(this=col("started_at"), desc=True),
            exp.Ordered(this=col("run_id"), desc=True),
        )
        .limit(1)
    )
    row = wh.fetchone(render(query, wh.dialect), [sync_id])
    return row is not None and row[0] not in ("success", "partial")


def log_confirmed_sql(dialect: str, plan_table: str, condition: exp.Expression) -> str:
    """INSERT of the outcome log rows of confirmed plan rows matching `condition`.

    Parameters: run id, sync id, logged_at, then those of `condition`.
    """
    query = (
        exp.select(
            param(),
            param(),
            col("__key"),
            col("__customer_id"),
            col("__op"),
            lit("confirmed"),
            exp.cast(exp.Null(), "text"),
            param(),
        )
        .from_(table(plan_table, None))
        .where(condition)
    )
    return render(exp.insert(query, table("sync_record_log"), columns=_log_columns()), dialect)


def log_rejected(
    wh: Warehouse,
    run_id: str,
    sync_id: str,
    rejected: Sequence[tuple[str, str | None, str, str]],
    now: dt.datetime,
) -> None:
    """Log rejections: (key, customer_id, change, reason)."""
    if rejected:
        statement = rejected_statement(wh, run_id, sync_id, rejected, now)
        wh.executemany(statement.sql, list(statement.params))


def rejected_statement(
    wh: Warehouse,
    run_id: str,
    sync_id: str,
    rejected: Sequence[tuple[str, str | None, str, str]],
    now: dt.datetime,
) -> Statement:
    """The executemany statement logging rejections: (key, customer_id, change, reason)."""
    insert = exp.insert(
        exp.select(*[param() for _ in range(8)]), table("sync_record_log"), columns=_log_columns()
    )
    rows = [
        (run_id, sync_id, key, cid, change, "rejected", reason[:MAX_REASON], now)
        for key, cid, change, reason in rejected
    ]
    return Statement(render(insert, wh.dialect), rows, many=True)


def _log_columns() -> list[exp.Identifier]:
    names = [
        "run_id",
        "sync_id",
        "record_key",
        "customer_id",
        "change",
        "outcome",
        "reason",
        "logged_at",
    ]
    return [exp.to_identifier(n, quoted=True) for n in names]


# -- reading --------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunRow:
    values: dict[str, Any]

    def __getitem__(self, name: str) -> Any:
        return self.values[name]


def list_runs(wh: Warehouse, *, sync: str | None = None, limit: int = 20) -> list[RunRow]:
    """The latest runs, newest first (optionally of one sync: its id or its name)."""
    query = exp.select(*[col(c) for c in RUN_COLUMNS]).from_(table("sync_runs"))
    params: list[Any] = []
    if sync:
        query = query.where(
            exp.or_(
                col("sync_id").eq(param()),
                col("sync_name").eq(param()),
                col("destination").eq(param()),
            )
        )
        params += [sync, sync, sync]
    query = query.order_by(
        exp.Ordered(this=col("started_at"), desc=True), exp.Ordered(this=col("run_id"), desc=True)
    ).limit(limit)
    return [
        RunRow(dict(zip(RUN_COLUMNS, r, strict=True)))
        for r in wh.fetchall(render(query, wh.dialect), params)
    ]


def get_run(wh: Warehouse, run_id: str) -> RunRow:
    query = (
        exp.select(*[col(c) for c in RUN_COLUMNS])
        .from_(table("sync_runs"))
        .where(col("run_id").eq(param()))
    )
    row = wh.fetchone(render(query, wh.dialect), [run_id])
    if row is None:
        raise CdpkitError(f"no sync run with id '{run_id}' (see 'cdpkit history')")
    return RunRow(dict(zip(RUN_COLUMNS, row, strict=True)))


def rejections(wh: Warehouse, run_id: str, limit: int = 50) -> tuple[int, list[dict[str, Any]]]:
    """How many records a run rejected, and the first `limit` with their reasons."""
    where = exp.and_(col("run_id").eq(param()), col("outcome").eq(lit("rejected")))
    total = wh.fetchone(
        render(
            exp.select(exp.Count(this=exp.Star())).from_(table("sync_record_log")).where(where),
            wh.dialect,
        ),
        [run_id],
    )
    query = (
        exp.select(col("record_key"), col("customer_id"), col("change"), col("reason"))
        .from_(table("sync_record_log"))
        .where(where)
        .order_by(col("record_key"))
        .limit(limit)
    )
    rows = wh.fetchall(render(query, wh.dialect), [run_id])
    items = [{"key": r[0], "customer_id": r[1], "change": r[2], "reason": r[3]} for r in rows]
    return int(total[0] if total else 0), items


def counts_of(row: RunRow) -> dict[str, int]:
    return {name: int(row.values.get(name) or 0) for name in COUNTS}
