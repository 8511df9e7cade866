"""The sync engine's tables in the warehouse schema `cdpkit` (DuckDB and PostgreSQL).

- `sync_state`: one row per record a sync delivered and the destination confirmed (key, hash
  of the mapped fields, the mapped fields as JSON — what a removal hands the connector —,
  destination id, owned = added by this sync);
- `sync_runs`: one row per run: timing, status, planned/sent/confirmed/rejected per operation;
- `sync_record_log`: one row per record outcome per run (confirmed / rejected with the reason);
- `sync_leases`: one row per sync currently running (holder, expiry);
- `audience_membership`: one row per stay of a customer in an audience (exited_at NULL while a
  member);
- `audience_snapshots`: one row per audience size measured by a run (size over time).

Tables are created on first use; columns added by later versions are added in place.
"""

from __future__ import annotations

from sqlglot import exp

from cdpkit.errors import WarehouseError
from cdpkit.sync.sql import STATE_SCHEMA, Column, create_table, render, table
from cdpkit.warehouse import Warehouse

COUNTS = [
    f"{stage}_{op}"
    for stage in ("planned", "sent", "confirmed", "rejected")
    for op in ("add", "update", "remove")
]

TABLES: dict[str, tuple[list[Column], list[str]]] = {
    "sync_state": (
        [
            Column("sync_id", "text", True),
            Column("record_key", "text", True),
            Column("customer_id", "text"),
            Column("field_hash", "text", True),
            Column("destination_id", "text"),
            Column("owned", "boolean", True),
            Column("synced_at", "timestamp", True),
            Column("run_id", "text", True),
            Column("fields", "text"),
        ],
        ["sync_id", "record_key"],
    ),
    "sync_runs": (
        [
            Column("run_id", "text", True),
            Column("sync_id", "text", True),
            Column("destination", "text", True),
            Column("destination_type", "text", True),
            Column("sync_name", "text", True),
            Column("audience", "text", True),
            Column("mode", "text", True),
            Column("status", "text", True),
            Column("started_at", "timestamp", True),
            Column("finished_at", "timestamp"),
            Column("as_of", "timestamp"),
            Column("audience_size", "bigint"),
            Column("holdout_size", "bigint"),
            Column("eligible_size", "bigint"),
            Column("destination_size", "bigint"),
            *[Column(name, "bigint") for name in COUNTS],
            Column("requests", "bigint"),
            Column("retries", "bigint"),
            Column("throttled", "bigint"),
            Column("error", "text"),
            Column("holder", "text"),
            Column("full_resync", "boolean"),
            Column("resets_at", "timestamp"),
        ],
        ["run_id"],
    ),
    "sync_record_log": (
        [
            Column("run_id", "text", True),
            Column("sync_id", "text", True),
            Column("record_key", "text", True),
            Column("customer_id", "text"),
            Column("change", "text", True),
            Column("outcome", "text", True),
            Column("reason", "text"),
            Column("logged_at", "timestamp", True),
        ],
        [],
    ),
    "sync_leases": (
        [
            Column("sync_id", "text", True),
            Column("run_id", "text", True),
            Column("holder", "text", True),
            Column("acquired_at", "timestamp", True),
            Column("expires_at", "timestamp", True),
        ],
        ["sync_id"],
    ),
    "audience_membership": (
        [
            Column("audience", "text", True),
            Column("customer_id", "text", True),
            Column("entered_at", "timestamp", True),
            Column("exited_at", "timestamp"),
            Column("entered_run_id", "text"),
            Column("exited_run_id", "text"),
        ],
        [],
    ),
    "audience_snapshots": (
        [
            Column("audience", "text", True),
            Column("run_id", "text", True),
            Column("measured_at", "timestamp", True),
            Column("members", "bigint", True),
            Column("holdout", "bigint", True),
        ],
        [],
    ),
}

# DuckDB keeps big primary-key indexes in memory; the engine keeps these unique itself.
_NO_PK_ON_DUCKDB = {"sync_state", "sync_runs"}

_ensured: set[tuple[int, str]] = set()


def ensure_schema(wh: Warehouse) -> None:
    """Create the `cdpkit` schema and its tables if missing; add columns new versions need."""
    marker = (id(wh), wh.location)
    if marker in _ensured:
        return
    schema = exp.Create(
        this=exp.to_identifier(STATE_SCHEMA, quoted=True), kind="SCHEMA", exists=True
    )
    try:
        wh.execute(render(schema, wh.dialect))
    except WarehouseError:
        # PostgreSQL can race another process creating the same schema; it exists now.
        wh.execute(render(schema, wh.dialect))
    for name, (columns, pk) in TABLES.items():
        key = [] if wh.dialect == "duckdb" and name in _NO_PK_ON_DUCKDB else pk
        existing = wh.table_columns(name, STATE_SCHEMA)
        if existing is None:
            wh.execute(render(create_table(name, columns, key), wh.dialect))
            continue
        for c in columns:
            if c.name not in existing:
                alter = exp.Alter(
                    this=table(name),
                    kind="TABLE",
                    actions=[
                        exp.ColumnDef(
                            this=exp.to_identifier(c.name, quoted=True),
                            kind=exp.DataType.build(c.type),
                        )
                    ],
                )
                wh.execute(render(alter, wh.dialect))
    _ensured.add(marker)
