"""The last measured size of each audience, in the warehouse table `cdpkit.audience_sizes`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlglot
from sqlglot import exp

from cdpkit.warehouse import Warehouse

STATE_SCHEMA = "cdpkit"
TABLE = "audience_sizes"

_DDL = f"""
create table if not exists {STATE_SCHEMA}.{TABLE} (
    audience varchar not null,
    size bigint not null,
    holdout_size bigint not null,
    as_of timestamp not null,
    recorded_at timestamp not null
)
"""


@dataclass(frozen=True)
class SizeRecord:
    audience: str
    size: int
    holdout_size: int
    as_of: datetime
    recorded_at: datetime


def _table() -> exp.Table:
    return exp.table_(TABLE, db=STATE_SCHEMA, quoted=True)


def ensure_table(wh: Warehouse) -> None:
    wh.execute(f"create schema if not exists {STATE_SCHEMA}")
    wh.execute(sqlglot.transpile(_DDL, read="duckdb", write=wh.dialect)[0])


def record_size(
    wh: Warehouse, audience: str, size: int, holdout_size: int, as_of: datetime
) -> None:
    """Append one measurement (history is kept; the latest wins in `last_sizes`)."""
    ensure_table(wh)
    now = datetime.now(UTC).replace(tzinfo=None)
    naive = as_of.astimezone(UTC).replace(tzinfo=None) if as_of.tzinfo else as_of
    insert = exp.insert(
        exp.values([tuple(exp.Placeholder() for _ in range(5))]),
        _table(),
        columns=["audience", "size", "holdout_size", "as_of", "recorded_at"],
    )
    wh.execute(insert.sql(dialect=wh.dialect), [audience, size, holdout_size, naive, now])


def last_sizes(wh: Warehouse) -> dict[str, SizeRecord]:
    """The most recent measurement per audience ({} when nothing was ever recorded)."""
    if wh.table_columns(TABLE, STATE_SCHEMA) is None:
        return {}
    query = exp.select("audience", "size", "holdout_size", "as_of", "recorded_at").from_(_table())
    latest: dict[str, SizeRecord] = {}
    for name, size, holdout, as_of, recorded in wh.fetchall(query.sql(dialect=wh.dialect)):
        record = SizeRecord(str(name), int(size), int(holdout), as_of, recorded)
        if name not in latest or recorded >= latest[name].recorded_at:
            latest[str(name)] = record
    return latest
