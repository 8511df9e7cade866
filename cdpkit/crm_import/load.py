"""Writing imported contacts into the raw table, and the import's watermark in schema `cdpkit`.

`raw.crm_contacts` (schema from the `cdpkit_raw_schema` var / `CDPKIT_RAW_SCHEMA`, table from the
`cdpkit_raw_tables.crm_contacts` var) is created with the ARCHITECTURE §3 columns when missing;
an existing table must have them all. A page is merged by `crm_id` (delete + insert in one
transaction), so re-importing a contact replaces its row instead of duplicating it.
`cdpkit.crm_imports` keeps one watermark per (source, destination, raw table).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass

import yaml
from sqlglot import exp

from cdpkit.crm_import.contacts import COLUMNS, TIMESTAMPS, ContactRow
from cdpkit.errors import ConfigError
from cdpkit.project import DBT_PROJECT_FILE, Project
from cdpkit.sync.sql import STATE_SCHEMA, Column, col, create_table, param, render, table
from cdpkit.warehouse import Warehouse

STATE_TABLE = "crm_imports"
STATE_COLUMNS = [
    Column("source", "text", True),
    Column("destination", "text", True),
    Column("raw_table", "text", True),
    Column("watermark", "timestamp"),
    Column("imported_at", "timestamp", True),
    Column("status", "text", True),
    Column("rows_loaded", "bigint", True),
]
CHUNK = 1_000


@dataclass(frozen=True)
class RawTable:
    schema: str
    name: str

    def ref(self) -> exp.Table:
        return table(self.name, self.schema)

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}"


def raw_table(project: Project) -> RawTable:
    """Where the raw CRM contacts live, read the way the dbt sources read it."""
    try:
        data = yaml.safe_load((project.root / DBT_PROJECT_FILE).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        data = {}
    variables = data.get("vars") or {}
    schema = variables.get("cdpkit_raw_schema") or os.environ.get("CDPKIT_RAW_SCHEMA") or "raw"
    tables = variables.get("cdpkit_raw_tables") or {}
    name = tables.get("crm_contacts") if isinstance(tables, dict) else None
    return RawTable(str(schema), str(name or "crm_contacts"))


def ensure_tables(wh: Warehouse, raw: RawTable) -> None:
    """Create the raw table (if missing) and the watermark table; check an existing raw table."""
    for schema in (raw.schema, STATE_SCHEMA):
        wh.execute(
            render(
                exp.Create(this=exp.to_identifier(schema, quoted=True), kind="SCHEMA", exists=True),
                wh.dialect,
            )
        )
    existing = wh.table_columns(raw.name, raw.schema)
    if existing is None:
        columns = [
            Column(c, "timestamp" if c in TIMESTAMPS else "text", c == "crm_id") for c in COLUMNS
        ]
        wh.execute(render(create_table(raw.name, columns, schema=raw.schema), wh.dialect))
    else:
        missing = [c for c in COLUMNS if c not in existing]
        if missing:
            raise ConfigError(
                f"{raw} exists but lacks the column(s) {', '.join(missing)} of the crm_contacts "
                "contract (ARCHITECTURE §3); add them or point cdpkit_raw_tables.crm_contacts at "
                "another table"
            )
    state = wh.table_columns(STATE_TABLE, STATE_SCHEMA)
    if state is None:
        wh.execute(render(create_table(STATE_TABLE, STATE_COLUMNS), wh.dialect))
        return
    for column in STATE_COLUMNS:  # added by a later version: add in place
        if column.name not in state:
            add = exp.Alter(
                this=table(STATE_TABLE),
                kind="TABLE",
                actions=[
                    exp.ColumnDef(
                        this=exp.to_identifier(column.name, quoted=True),
                        kind=exp.DataType.build(column.type),
                    )
                ],
            )
            wh.execute(render(add, wh.dialect))


def merge(wh: Warehouse, raw: RawTable, rows: Sequence[ContactRow]) -> int:
    """Replace the rows of these contacts (by crm_id); returns how many were written."""
    unique = list({r.crm_id: r for r in rows}.values())
    if not unique:
        return 0
    insert = exp.insert(
        exp.Values(expressions=[exp.Tuple(expressions=[param() for _ in COLUMNS])]),
        raw.ref(),
        columns=[exp.to_identifier(c, quoted=True) for c in COLUMNS],
    )
    with wh.transaction():
        for start in range(0, len(unique), CHUNK):
            part = unique[start : start + CHUNK]
            delete = exp.delete(raw.ref(), where=col("crm_id").isin(*[param() for _ in part]))
            wh.execute(render(delete, wh.dialect), [r.crm_id for r in part])
            wh.executemany(render(insert, wh.dialect), [r.values() for r in part])
    return len(unique)


def _state_filter() -> exp.Expression:
    return exp.and_(
        col("source").eq(param()), col("destination").eq(param()), col("raw_table").eq(param())
    )


def watermark(wh: Warehouse, source: str, destination: str, raw: RawTable) -> dt.datetime | None:
    """The newest `updated_at` an earlier import of this source into this table loaded."""
    query = exp.select(col("watermark")).from_(table(STATE_TABLE)).where(_state_filter())
    row = wh.fetchone(render(query, wh.dialect), [source, destination, str(raw)])
    return row[0] if row else None


def save_state(
    wh: Warehouse,
    source: str,
    destination: str,
    raw: RawTable,
    mark: dt.datetime | None,
    status: str,
    loaded: int,
) -> None:
    delete = exp.delete(table(STATE_TABLE), where=_state_filter())
    insert = exp.insert(
        exp.Values(expressions=[exp.Tuple(expressions=[param() for _ in STATE_COLUMNS])]),
        table(STATE_TABLE),
        columns=[exp.to_identifier(c.name, quoted=True) for c in STATE_COLUMNS],
    )
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with wh.transaction():
        wh.execute(render(delete, wh.dialect), [source, destination, str(raw)])
        wh.execute(
            render(insert, wh.dialect), [source, destination, str(raw), mark, now, status, loaded]
        )
