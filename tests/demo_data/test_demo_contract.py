"""The generated files honour ARCHITECTURE §3: columns, types, vocabularies, keys, time window."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from demo_helpers import DemoSet

from cdpkit.demo_data import REFERENCE_TIME, TABLES, TRUTH_COLUMNS, generate

TIMESTAMPS = {
    "events": ("occurred_at",),
    "orders": ("ordered_at",),
    "crm_contacts": ("created_at", "updated_at"),
    "email_events": ("occurred_at",),
    "consents": ("recorded_at",),
}
VOCABULARY = {
    ("events", "event_type"): {"track", "page", "screen", "identify", "alias"},
    ("events", "source"): {"web", "ios", "android", "server"},
    ("orders", "channel"): {"web", "app", "pos"},
    ("orders", "status"): {"completed", "refunded", "cancelled"},
    ("email_events", "event_type"): {"delivered", "opened", "clicked", "bounced", "unsubscribed"},
    ("consents", "identifier_type"): {"email", "phone", "user_id", "anonymous_id"},
    ("consents", "purpose"): {"marketing", "advertising", "analytics"},
    ("consents", "granted"): {"true", "false"},
}
NOT_NULL = {
    "events": ("event_id", "event_type", "event_name", "occurred_at", "source", "properties"),
    "orders": ("order_id", "channel", "total_amount", "currency", "status", "ordered_at"),
    "order_items": ("order_id", "sku", "product_name", "category", "quantity", "unit_price"),
    "crm_contacts": ("crm_id", "lifecycle_stage", "country", "created_at", "updated_at"),
    "email_events": ("email", "event_type", "campaign_id", "occurred_at"),
    "consents": ("identifier_type", "identifier", "purpose", "granted", "recorded_at"),
}


def _ts(text: str | None) -> datetime:
    assert text is not None
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


def test_every_file_has_exactly_the_contract_columns(demo: DemoSet) -> None:
    assert [p.name for p in demo.summary.files] == [f"{t}.csv" for t in TABLES] + ["truth.csv"]
    for name, columns in TABLES.items():
        assert tuple(demo.headers[name]) == columns, name
    assert tuple(demo.headers["truth"]) == TRUTH_COLUMNS


def test_summary_counts_match_the_files(demo: DemoSet) -> None:
    assert demo.summary.people == len({r["person_id"] for r in demo.truth})
    for name in TABLES:
        assert demo.summary.rows[name] == len(demo.tables[name]), name
    assert demo.summary.rows["truth"] == len(demo.truth)
    assert not list(demo.root.glob("*.partial"))


def test_csv_is_exactly_what_csv_writer_would_write(demo: DemoSet) -> None:
    for path in demo.summary.files:
        text = path.read_text(encoding="utf-8")
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(csv.reader(io.StringIO(text)))
        assert buf.getvalue() == text, path.name


def test_required_columns_are_never_null(demo: DemoSet) -> None:
    for table, columns in NOT_NULL.items():
        for row in demo.tables[table]:
            for column in columns:
                assert row[column] is not None, (table, column, row)


def test_values_come_from_the_contract_vocabularies(demo: DemoSet) -> None:
    for (table, column), allowed in VOCABULARY.items():
        seen = {row[column] for row in demo.tables[table]}
        assert seen == allowed, (table, column, seen ^ allowed)
    pages = [e for e in demo.tables["events"] if e["event_type"] == "page"]
    assert {e["event_name"] for e in pages} == {"page_viewed"}


def test_timestamps_lie_in_the_18_months_before_the_reference_time(demo: DemoSet) -> None:
    earliest = REFERENCE_TIME - timedelta(days=549)
    for table, columns in TIMESTAMPS.items():
        times = [_ts(row[c]) for row in demo.tables[table] for c in columns]
        assert all(earliest <= t < REFERENCE_TIME for t in times), table
        if table in ("events", "orders"):
            assert min(times) < earliest + timedelta(days=60)
            assert max(times) > REFERENCE_TIME - timedelta(days=14)
    for row in demo.tables["crm_contacts"]:
        assert _ts(row["created_at"]) <= _ts(row["updated_at"])


def test_keys_are_unique(demo: DemoSet) -> None:
    for table, key in (("events", "event_id"), ("orders", "order_id"), ("crm_contacts", "crm_id")):
        values = [row[key] for row in demo.tables[table]]
        assert len(values) == len(set(values)), table


def test_order_items_add_up_to_the_order_total(demo: DemoSet) -> None:
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for item in demo.tables["order_items"]:
        assert item["quantity"] is not None and item["unit_price"] is not None
        assert int(item["quantity"]) >= 1
        sums[str(item["order_id"])] += int(item["quantity"]) * Decimal(item["unit_price"])
    orders = {str(o["order_id"]): Decimal(str(o["total_amount"])) for o in demo.tables["orders"]}
    assert sums.keys() == orders.keys()
    assert all(sums[k] == total for k, total in orders.items())


def test_properties_are_json_with_the_documented_fields(demo: DemoSet) -> None:
    orders = {o["order_id"]: Decimal(str(o["total_amount"])) for o in demo.tables["orders"]}
    expected = {
        "product_viewed": {"sku", "product_name", "category", "price"},
        "product_added": {"sku", "product_name", "category", "price", "quantity"},
        "checkout_started": {"cart_value"},
        "order_completed": {"order_id", "revenue"},
    }
    seen: Counter[str] = Counter()
    for event in demo.tables["events"]:
        props = json.loads(str(event["properties"]))
        assert isinstance(props, dict)
        name = str(event["event_name"])
        if name in expected:
            seen[name] += 1
            assert set(props) == expected[name], event
        if name == "order_completed":
            assert Decimal(str(props["revenue"])) == orders[props["order_id"]]
    assert all(seen[name] > 100 for name in expected), seen


def test_parquet_has_contract_columns_and_real_types(tmp_path: Path) -> None:
    summary = generate(300, 7, tmp_path, "parquet")
    assert [p.name for p in summary.files] == [f"{t}.parquet" for t in TABLES] + ["truth.csv"]
    for name, columns in TABLES.items():
        table = pq.read_table(tmp_path / f"{name}.parquet")
        assert tuple(table.column_names) == columns
        assert table.num_rows == summary.rows[name]
        for column in TIMESTAMPS.get(name, ()):
            assert pa.types.is_timestamp(table.schema.field(column).type)
    consents = pq.read_table(tmp_path / "consents.parquet")
    assert consents.schema.field("granted").type == pa.bool_()
    orders = pq.read_table(tmp_path / "orders.parquet")
    assert pa.types.is_decimal(orders.schema.field("total_amount").type)
    latest = max(orders.column("ordered_at").to_pylist())
    assert latest < REFERENCE_TIME.replace(tzinfo=None)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_csv_and_parquet_hold_the_same_truth(tmp_path: Path, fmt: str) -> None:
    generate(200, 3, tmp_path / fmt, fmt)  # type: ignore[arg-type]
    reference = generate(200, 3, tmp_path / "ref")
    assert (tmp_path / fmt / "truth.csv").read_bytes() == (
        tmp_path / "ref" / "truth.csv"
    ).read_bytes()
    assert reference.rows["events"] > 0
