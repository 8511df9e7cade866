"""Small hand-made raw tables (ARCHITECTURE §3) for identity tests, loaded into a real warehouse."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from cdpkit.warehouse import Warehouse

COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "events": (
        ("event_id", "varchar"),
        ("event_type", "varchar"),
        ("event_name", "varchar"),
        ("anonymous_id", "varchar"),
        ("user_id", "varchar"),
        ("email", "varchar"),
        ("phone", "varchar"),
        ("device_id", "varchar"),
        ("occurred_at", "timestamp"),
        ("source", "varchar"),
        ("page_path", "varchar"),
        ("page_url", "varchar"),
        ("referrer", "varchar"),
        ("utm_source", "varchar"),
        ("utm_medium", "varchar"),
        ("utm_campaign", "varchar"),
        ("properties", "varchar"),
    ),
    "orders": (
        ("order_id", "varchar"),
        ("user_id", "varchar"),
        ("email", "varchar"),
        ("phone", "varchar"),
        ("loyalty_id", "varchar"),
        ("channel", "varchar"),
        ("store_id", "varchar"),
        ("total_amount", "decimal(18,2)"),
        ("currency", "varchar"),
        ("status", "varchar"),
        ("ordered_at", "timestamp"),
    ),
    "order_items": (
        ("order_id", "varchar"),
        ("sku", "varchar"),
        ("product_name", "varchar"),
        ("category", "varchar"),
        ("quantity", "integer"),
        ("unit_price", "decimal(18,2)"),
    ),
    "crm_contacts": (
        ("crm_id", "varchar"),
        ("email", "varchar"),
        ("phone", "varchar"),
        ("first_name", "varchar"),
        ("last_name", "varchar"),
        ("company", "varchar"),
        ("job_title", "varchar"),
        ("lifecycle_stage", "varchar"),
        ("city", "varchar"),
        ("country", "varchar"),
        ("created_at", "timestamp"),
        ("updated_at", "timestamp"),
    ),
    "email_events": (
        ("email", "varchar"),
        ("event_type", "varchar"),
        ("campaign_id", "varchar"),
        ("occurred_at", "timestamp"),
    ),
    "consents": (
        ("identifier_type", "varchar"),
        ("identifier", "varchar"),
        ("purpose", "varchar"),
        ("granted", "boolean"),
        ("recorded_at", "timestamp"),
    ),
}

DEFAULTS: dict[str, dict[str, Any]] = {
    "events": {
        "event_type": "track",
        "event_name": "product_viewed",
        "occurred_at": "2026-01-01 10:00:00",
        "source": "web",
        "properties": "{}",
    },
    "orders": {
        "channel": "web",
        "total_amount": "10.00",
        "currency": "USD",
        "status": "completed",
        "ordered_at": "2026-01-02 10:00:00",
    },
    "order_items": {"sku": "SKU-1", "product_name": "Mug", "category": "kitchen", "quantity": 1},
    "crm_contacts": {
        "created_at": "2025-12-01 00:00:00",
        "updated_at": "2026-01-01 00:00:00",
        "lifecycle_stage": "lead",
    },
    "email_events": {"event_type": "opened", "occurred_at": "2026-01-03 00:00:00"},
    "consents": {"purpose": "marketing", "granted": True, "recorded_at": "2026-01-01 00:00:00"},
}


@dataclass
class RawData:
    """Rows per raw table; ids are filled in when missing."""

    tables: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {name: [] for name in COLUMNS}
    )

    def add(self, table: str, **values: Any) -> dict[str, Any]:
        unknown = set(values) - {c for c, _ in COLUMNS[table]}
        if unknown:
            raise ValueError(f"{table} has no columns {sorted(unknown)}")
        row = {**DEFAULTS.get(table, {}), **values}
        rows = self.tables[table]
        if table == "events":
            row.setdefault("event_id", f"e{len(rows) + 1}")
        if table == "orders":
            row.setdefault("order_id", f"o{len(rows) + 1}")
        rows.append(row)
        return row

    def event(self, **values: Any) -> dict[str, Any]:
        return self.add("events", **values)

    def order(self, **values: Any) -> dict[str, Any]:
        return self.add("orders", **values)

    def crm(self, **values: Any) -> dict[str, Any]:
        return self.add("crm_contacts", **values)

    def consent(self, **values: Any) -> dict[str, Any]:
        return self.add("consents", **values)


def _table(schema: str, name: str) -> exp.Table:
    return exp.table_(name, db=schema, quoted=True)


def create_raw_tables(wh: Warehouse, schema: str, data: RawData, *, replace: bool = True) -> None:
    """Create (or append to) `schema`.<table> for every raw table and insert the rows."""
    dialect = wh.dialect
    wh.execute(
        exp.Create(this=exp.to_identifier(schema, quoted=True), kind="SCHEMA", exists=True).sql(
            dialect
        )
    )
    for name, columns in COLUMNS.items():
        table = _table(schema, name)
        if replace:
            wh.execute(
                exp.Drop(tables=[table], kind="TABLE", exists=True, cascade=True).sql(dialect)
            )
            schema_expr = exp.Schema(
                this=table,
                expressions=[
                    exp.ColumnDef(
                        this=exp.to_identifier(col, quoted=True),
                        kind=exp.DataType.build(kind, dialect=dialect),
                    )
                    for col, kind in columns
                ],
            )
            wh.execute(exp.Create(this=schema_expr, kind="TABLE").sql(dialect))
        insert_rows(wh, table, columns, data.tables[name])


def insert_rows(
    wh: Warehouse,
    table: exp.Table,
    columns: Sequence[tuple[str, str]],
    rows: Iterable[Mapping[str, Any]],
) -> None:
    rows = list(rows)
    if not rows:
        return
    names = [c for c, _ in columns]
    values = exp.Tuple(
        expressions=[
            exp.cast(exp.Placeholder(), exp.DataType.build(kind, dialect=wh.dialect))
            for _, kind in columns
        ]
    )
    insert = exp.insert(
        exp.Values(expressions=[values]),
        exp.Schema(this=table, expressions=[exp.to_identifier(n, quoted=True) for n in names]),
    )
    wh.executemany(insert.sql(wh.dialect), [[r.get(n) for n in names] for r in rows])


def load_csv_dir(db_path: str, directory: str, schema: str = "raw") -> dict[str, int]:
    """Load a `cdpkit demo-data` CSV directory (tables + truth.csv) into a DuckDB file."""
    from pathlib import Path

    import duckdb

    con = duckdb.connect(db_path)
    try:
        con.execute(
            exp.Create(this=exp.to_identifier(schema, quoted=True), kind="SCHEMA", exists=True).sql(
                "duckdb"
            )
        )
        counts: dict[str, int] = {}
        tables = {
            **COLUMNS,
            "truth": (
                ("person_id", "varchar"),
                ("identifier_type", "varchar"),
                ("identifier_value", "varchar"),
            ),
        }
        for name, columns in tables.items():
            path = Path(directory) / f"{name}.csv"
            types = exp.Struct(
                expressions=[
                    exp.PropertyEQ(
                        this=exp.to_identifier(c, quoted=True), expression=exp.convert(k)
                    )
                    for c, k in columns
                ]
            )
            reader = exp.func(
                "read_csv",
                exp.convert(str(path)),
                exp.PropertyEQ(this=exp.to_identifier("header"), expression=exp.true()),
                exp.PropertyEQ(this=exp.to_identifier("columns"), expression=types),
                exp.PropertyEQ(this=exp.to_identifier("strict_mode"), expression=exp.false()),
            )
            table = _table(schema, name)
            con.execute(exp.Drop(tables=[table], kind="TABLE", exists=True).sql("duckdb"))
            create = exp.Create(this=table, kind="TABLE", expression=exp.select("*").from_(reader))
            con.execute(create.sql("duckdb"))
            row = con.execute(
                exp.select(exp.func("count", exp.Star())).from_(table).sql("duckdb")
            ).fetchone()
            counts[name] = int(row[0]) if row else 0
        return counts
    finally:
        con.close()
