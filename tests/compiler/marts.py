"""A tiny hand-made copy of the marts (ARCHITECTURE §4) where every right answer is obvious.

As of 2026-10-31 00:00 (AS_OF):

| id  | who                    | country | revenue | orders (completed)            | consent m/a |
|-----|------------------------|---------|---------|-------------------------------|-------------|
| c01 | Ann, big web buyer     | US      | 1000    | 5 web, last 2026-10-20        | yes / yes   |
| c02 | Bob, lapsed            | US      | 50      | 1 web 2026-06-01              | no / yes    |
| c03 | Cat, pricing lurker    | FR      | 0       | none                          | yes / no    |
| c04 | anonymous lurker       | NULL    | 0       | none                          | no / no     |
| c05 | Dan, in-store only     | DE      | 500     | 2 pos (+1 refunded web)       | yes / no    |
| c06 | Eve, in-store + app    | DE      | 500     | 1 pos, 1 app                  | no / no     |
| c07 | Fay                    | GB      | 200     | 1 app 2026-10-30              | yes / yes   |
| c08 | Gus, top buyer         | US      | 2000    | 4 web, last 2026-09-15        | yes / no    |
| c09 | Hal, nothing at all    | NULL    | NULL    | none                          | no / no     |
| c10 | Ivy O'Brien            | IE      | 0       | none (1 cancelled web)        | yes / yes   |

Events (all before AS_OF):
- page_viewed /pricing: c01 ×3 in the last 30 days; c03 ×3 in 30 days + 1 on 2026-08-01;
  c04 ×3 in 30 days; c05 ×3 in 30 days; c02 ×2 in 30 days; c06 ×1 (2026-10-28).
- page_viewed /docs: c08 ×5 (2026-10-01 … 2026-10-05); c10 ×1 /docs?q=it's (2026-10-29).
- product_added: c01 2026-10-19 10:00 (ordered 2026-10-20 09:00, <1d later);
  c02 2026-10-25 (no order after); c05 2026-10-01 12:00 (pos order 2026-10-03, 2d later);
  c07 2026-10-29 08:00 (app order 2026-10-30 07:00, <1d later).
- product_viewed with JSON properties: c06 {"plan":"pro","price":49.5},
  c07 {"plan":"pro","price":"120"}, c08 {"plan":"basic","price":10,"tags":{"color":"red"}},
  c10 {"plan":"it's"} — and c09 has no events at all.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from cdpkit.warehouse import Warehouse

AS_OF = datetime(2026, 10, 31, 0, 0, 0)

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
EVENT_COLUMNS = (
    ("event_id", "varchar"),
    ("customer_id", "varchar"),
    ("event_type", "varchar"),
    ("event_name", "varchar"),
    ("occurred_at", "timestamp"),
    ("source", "varchar"),
    ("page_path", "varchar"),
    ("properties", "varchar"),
)
ORDER_COLUMNS = (
    ("order_id", "varchar"),
    ("customer_id", "varchar"),
    ("channel", "varchar"),
    ("total_amount", "decimal(18,2)"),
    ("status", "varchar"),
    ("ordered_at", "timestamp"),
)


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _d(v: str | None) -> Decimal | None:
    return None if v is None else Decimal(v)


# fmt: off
CUSTOMERS: list[tuple[Any, ...]] = [
    ("c01", "ann@example.com", "+15550001", "Ann", "Lee", "Boston", "US",
     ts("2025-01-01"), ts("2026-10-20"), False, "customer", 5, _d("1000"),
     ts("2025-02-01"), ts("2026-10-20 09:00"), True, True),
    ("c02", "bob@example.com", None, "Bob", "Ray", "Austin", "US",
     ts("2025-03-01"), ts("2026-10-25"), False, "customer", 1, _d("50"),
     ts("2026-06-01"), ts("2026-06-01"), False, True),
    ("c03", "cat@example.fr", None, "Cat", "Roux", "Paris", "FR",
     ts("2026-08-01"), ts("2026-10-28"), False, "lead", 0, _d("0"),
     None, None, True, False),
    ("c04", None, None, None, None, None, None,
     ts("2026-10-05"), ts("2026-10-27"), True, "visitor", 0, _d("0"),
     None, None, False, False),
    ("c05", "dan@example.de", "+49301234", "Dan", "Vogel", "Berlin", "DE",
     ts("2025-06-01"), ts("2026-10-26"), False, "customer", 2, _d("500"),
     ts("2026-01-10"), ts("2026-10-03"), True, False),
    ("c06", "eve@example.de", None, "Eve", "Kern", "Munich", "DE",
     ts("2025-07-01"), ts("2026-10-28"), False, "customer", 2, _d("500"),
     ts("2026-02-01"), ts("2026-09-01"), False, False),
    ("c07", "fay@example.co.uk", "+44207", "Fay", "Hart", "London", "GB",
     ts("2026-01-01"), ts("2026-10-30"), False, "customer", 1, _d("200"),
     ts("2026-10-30 07:00"), ts("2026-10-30 07:00"), True, True),
    ("c08", "gus@example.com", "+15550008", "Gus", "Hill", "Denver", "US",
     ts("2024-11-01"), ts("2026-10-05"), False, "customer", 4, _d("2000"),
     ts("2024-12-01"), ts("2026-09-15"), True, False),
    ("c09", "hal@example.net", None, "Hal", None, None, None,
     ts("2026-10-10"), ts("2026-10-10"), False, "lead", 0, None,
     None, None, False, False),
    ("c10", "ivy@example.ie", None, "Ivy", "O'Brien", "Dublin", "IE",
     ts("2026-09-01"), ts("2026-10-29"), False, "lead", 0, _d("0"),
     None, None, True, True),
]

_EVENTS: list[tuple[str, str, str, str, str | None, str | None]] = [
    # customer, type, name, occurred_at, page_path, properties
    ("c01", "page", "page_viewed", "2026-10-05 10:00", "/pricing", None),
    ("c01", "page", "page_viewed", "2026-10-10 10:00", "/pricing", None),
    ("c01", "page", "page_viewed", "2026-10-20 08:00", "/pricing", None),
    ("c01", "track", "product_added", "2026-10-19 10:00", "/products/lamp", '{"sku":"L1"}'),
    ("c02", "page", "page_viewed", "2026-10-12 10:00", "/pricing", None),
    ("c02", "page", "page_viewed", "2026-10-24 10:00", "/pricing", None),
    ("c02", "track", "product_added", "2026-10-25 10:00", "/products/desk", '{"sku":"D1"}'),
    ("c03", "page", "page_viewed", "2026-08-01 10:00", "/pricing", None),
    ("c03", "page", "page_viewed", "2026-10-02 10:00", "/pricing", None),
    ("c03", "page", "page_viewed", "2026-10-15 10:00", "/pricing", None),
    ("c03", "page", "page_viewed", "2026-10-28 10:00", "/pricing", None),
    ("c04", "page", "page_viewed", "2026-10-05 10:00", "/pricing", None),
    ("c04", "page", "page_viewed", "2026-10-06 10:00", "/pricing", None),
    ("c04", "page", "page_viewed", "2026-10-27 10:00", "/pricing", None),
    ("c05", "page", "page_viewed", "2026-10-03 10:00", "/pricing", None),
    ("c05", "page", "page_viewed", "2026-10-13 10:00", "/pricing", None),
    ("c05", "page", "page_viewed", "2026-10-26 10:00", "/pricing", None),
    ("c05", "track", "product_added", "2026-10-01 12:00", "/products/chair", '{"sku":"C1"}'),
    ("c06", "page", "page_viewed", "2026-10-28 10:00", "/pricing", None),
    ("c06", "track", "product_viewed", "2026-10-28 10:05", "/products/a",
     '{"plan":"pro","price":49.5}'),
    ("c07", "track", "product_added", "2026-10-29 08:00", "/products/rug", '{"sku":"R1"}'),
    ("c07", "track", "product_viewed", "2026-10-29 07:55", "/products/b",
     '{"plan":"pro","price":"120"}'),
    ("c08", "page", "page_viewed", "2026-10-01 10:00", "/docs", None),
    ("c08", "page", "page_viewed", "2026-10-02 10:00", "/docs", None),
    ("c08", "page", "page_viewed", "2026-10-03 10:00", "/docs", None),
    ("c08", "page", "page_viewed", "2026-10-04 10:00", "/docs", None),
    ("c08", "page", "page_viewed", "2026-10-05 10:00", "/docs", None),
    ("c08", "track", "product_viewed", "2026-10-05 10:05", "/products/c",
     '{"plan":"basic","price":10,"tags":{"color":"red"}}'),
    ("c10", "page", "page_viewed", "2026-10-29 10:00", "/docs?q=it's", None),
    ("c10", "track", "product_viewed", "2026-10-29 10:01", "/products/d", '{"plan":"it\'s"}'),
]
EVENTS: list[tuple[Any, ...]] = [
    (f"e{i:03d}", c, t, n, ts(at), "web", path, props)
    for i, (c, t, n, at, path, props) in enumerate(_EVENTS, start=1)
]

ORDERS: list[tuple[Any, ...]] = [
    ("o01", "c01", "web", _d("200"), "completed", ts("2025-02-01")),
    ("o02", "c01", "web", _d("200"), "completed", ts("2025-08-01")),
    ("o03", "c01", "web", _d("200"), "completed", ts("2026-03-01")),
    ("o04", "c01", "web", _d("200"), "completed", ts("2026-07-01")),
    ("o05", "c01", "web", _d("200"), "completed", ts("2026-10-20 09:00")),
    ("o06", "c02", "web", _d("50"), "completed", ts("2026-06-01")),
    ("o07", "c05", "pos", _d("300"), "completed", ts("2026-01-10")),
    ("o08", "c05", "pos", _d("200"), "completed", ts("2026-10-03")),
    ("o09", "c05", "web", _d("80"), "refunded", ts("2026-05-05")),
    ("o10", "c06", "pos", _d("400"), "completed", ts("2026-02-01")),
    ("o11", "c06", "app", _d("100"), "completed", ts("2026-09-01")),
    ("o12", "c07", "app", _d("200"), "completed", ts("2026-10-30 07:00")),
    ("o13", "c08", "web", _d("500"), "completed", ts("2024-12-01")),
    ("o14", "c08", "web", _d("500"), "completed", ts("2025-06-01")),
    ("o15", "c08", "web", _d("500"), "completed", ts("2026-03-15")),
    ("o16", "c08", "web", _d("500"), "completed", ts("2026-09-15")),
    ("o17", "c10", "web", _d("30"), "cancelled", ts("2026-10-29 12:00")),
]
# fmt: on

ALL_IDS = frozenset(row[0] for row in CUSTOMERS)
TABLES = {
    "customers": (CUSTOMER_COLUMNS, CUSTOMERS),
    "customer_events": (EVENT_COLUMNS, EVENTS),
    "customer_orders": (ORDER_COLUMNS, ORDERS),
}


def create_marts(wh: Warehouse, schema: str) -> None:
    """Create the three marts in `schema` (dropping earlier copies) and load the rows."""
    ph = "?" if wh.dialect == "duckdb" else "%s"
    wh.execute(f'create schema if not exists "{schema}"')
    for table, (columns, rows) in TABLES.items():
        wh.execute(f'drop table if exists "{schema}"."{table}"')
        cols = ", ".join(f'"{name}" {kind}' for name, kind in columns)
        wh.execute(f'create table "{schema}"."{table}" ({cols})')
        marks = ", ".join(ph for _ in columns)
        wh.executemany(f'insert into "{schema}"."{table}" values ({marks})', rows)
