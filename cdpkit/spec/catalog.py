"""What audiences may refer to: the mart columns with coarse types, and the known event names.

`contract_catalog()` is ARCHITECTURE §4; `warehouse_catalog(wh)` reads the real columns (and
the distinct event names) of the built marts, falling back to the contract per missing table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from sqlglot import exp

if TYPE_CHECKING:
    from cdpkit.warehouse import Warehouse

ColType = Literal["string", "number", "timestamp", "date", "boolean", "json", "unknown"]
MART_TABLES = ("customers", "customer_events", "customer_orders")
MAX_EVENT_NAMES = 10_000

CONTRACT: dict[str, dict[str, ColType]] = {
    "customers": {
        "customer_id": "string",
        "email": "string",
        "phone": "string",
        "first_name": "string",
        "last_name": "string",
        "city": "string",
        "country": "string",
        "first_seen_at": "timestamp",
        "last_seen_at": "timestamp",
        "is_anonymous": "boolean",
        "lifecycle_stage": "string",
        "order_count": "number",
        "total_revenue": "number",
        "first_order_at": "timestamp",
        "last_order_at": "timestamp",
        "consent_marketing": "boolean",
        "consent_advertising": "boolean",
    },
    "customer_events": {
        "event_id": "string",
        "customer_id": "string",
        "event_type": "string",
        "event_name": "string",
        "occurred_at": "timestamp",
        "source": "string",
        "page_path": "string",
        "properties": "json",
    },
    "customer_orders": {
        "order_id": "string",
        "customer_id": "string",
        "channel": "string",
        "total_amount": "number",
        "status": "string",
        "ordered_at": "timestamp",
    },
}


@dataclass(frozen=True)
class Catalog:
    """Columns per mart table (name → coarse type) and, when known, the event names in use."""

    tables: Mapping[str, Mapping[str, ColType]]
    event_names: frozenset[str] | None = None
    source: str = "contract"  # "contract" or "warehouse"
    missing_tables: tuple[str, ...] = field(default=())

    def columns(self, table: str) -> Mapping[str, ColType]:
        return self.tables.get(table, {})

    def column_type(self, table: str, column: str) -> ColType | None:
        return self.tables.get(table, {}).get(column)


def contract_catalog() -> Catalog:
    """The columns every cdpkit mart is guaranteed to have (no event names known)."""
    return Catalog(tables=CONTRACT)


def coarse_type(data_type: str) -> ColType:
    """Map an information_schema data_type (any engine) to a coarse type."""
    t = data_type.strip().lower()
    if t.startswith(("json", "super", "variant", "struct", "map")):
        return "json"
    if t.startswith("timestamp") or t in ("datetime", "timestamptz"):
        return "timestamp"
    if t == "date":
        return "date"
    if t.startswith(("bool",)):
        return "boolean"
    numeric = (
        "decimal", "numeric", "double", "float", "real", "number", "int", "bigint", "smallint",
        "tinyint", "hugeint", "ubigint", "uinteger", "usmallint", "utinyint", "uhugeint",
    )  # fmt: skip
    if t.startswith(numeric):
        return "number"
    if t.startswith(("varchar", "character", "text", "string", "char", "uuid", "bpchar")):
        return "string"
    return "unknown"


def warehouse_catalog(wh: Warehouse, schema: str | None = None) -> Catalog:
    """The real mart columns (+ event names) of `schema`; the contract for missing marts."""
    schema = schema or wh.schema
    tables: dict[str, dict[str, ColType]] = {}
    missing: list[str] = []
    for table in MART_TABLES:
        columns = _columns(wh, schema, table)
        if columns:
            tables[table] = columns
        else:
            tables[table] = dict(CONTRACT[table])
            missing.append(table)
    names = None
    if "customer_events" not in missing and "event_name" in tables["customer_events"]:
        names = _event_names(wh, schema)
    source = "contract" if len(missing) == len(MART_TABLES) else "warehouse"
    return Catalog(tables, names, source, tuple(missing))


def _columns(wh: Warehouse, schema: str, table: str) -> dict[str, ColType]:
    cols = exp.column
    query = (
        exp.select(cols("column_name"), cols("data_type"))
        .from_(exp.table_("columns", db="information_schema"))
        .where(
            exp.and_(
                cols("table_schema").eq(exp.Placeholder()),
                cols("table_name").eq(exp.Placeholder()),
            )
        )
        .order_by(cols("ordinal_position"))
    )
    rows = wh.fetchall(query.sql(dialect=wh.dialect), [schema, table])
    return {str(name): coarse_type(str(dtype)) for name, dtype in rows}


def _event_names(wh: Warehouse, schema: str) -> frozenset[str]:
    name = exp.column("event_name", quoted=True)
    query = (
        exp.select(name)
        .distinct()
        .from_(exp.table_("customer_events", db=schema, quoted=True))
        .where(name.is_(exp.null()).not_())
        .limit(MAX_EVENT_NAMES)
    )
    return frozenset(str(r[0]) for r in wh.fetchall(query.sql(dialect=wh.dialect)))
