"""Column contracts of the generated tables (ARCHITECTURE §3) and the truth file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

import pyarrow as pa

REFERENCE_TIME: Final = datetime(2026, 10, 31, 0, 0, tzinfo=UTC)
"""Every generated timestamp is before this instant, so audiences can use it as `as_of`."""

WINDOW_DAYS: Final = 548
"""About 18 months of history end at REFERENCE_TIME."""

WINDOW_START: Final = REFERENCE_TIME - timedelta(days=WINDOW_DAYS)

TABLES: Final[dict[str, tuple[str, ...]]] = {
    "events": (
        "event_id",
        "event_type",
        "event_name",
        "anonymous_id",
        "user_id",
        "email",
        "phone",
        "device_id",
        "occurred_at",
        "source",
        "page_path",
        "page_url",
        "referrer",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "properties",
    ),
    "orders": (
        "order_id",
        "user_id",
        "email",
        "phone",
        "loyalty_id",
        "channel",
        "store_id",
        "total_amount",
        "currency",
        "status",
        "ordered_at",
    ),
    "order_items": ("order_id", "sku", "product_name", "category", "quantity", "unit_price"),
    "crm_contacts": (
        "crm_id",
        "email",
        "phone",
        "first_name",
        "last_name",
        "company",
        "job_title",
        "lifecycle_stage",
        "city",
        "country",
        "created_at",
        "updated_at",
    ),
    "email_events": ("email", "event_type", "campaign_id", "occurred_at"),
    "consents": ("identifier_type", "identifier", "purpose", "granted", "recorded_at"),
}
"""Raw input tables in output order, each with its contract columns in contract order."""

TRUTH_TABLE: Final = "truth"
TRUTH_COLUMNS: Final = ("person_id", "identifier_type", "identifier_value")

IDENTIFIER_TYPES: Final = (
    "anonymous_id",
    "user_id",
    "email",
    "phone",
    "device_id",
    "crm_id",
    "loyalty_id",
)

IDENTIFIER_COLUMNS: Final[dict[str, dict[str, str]]] = {
    "events": {
        "anonymous_id": "anonymous_id",
        "user_id": "user_id",
        "email": "email",
        "phone": "phone",
        "device_id": "device_id",
    },
    "orders": {
        "user_id": "user_id",
        "email": "email",
        "phone": "phone",
        "loyalty_id": "loyalty_id",
    },
    "crm_contacts": {"crm_id": "crm_id", "email": "email", "phone": "phone"},
    "email_events": {"email": "email"},
}
"""Per table, identifier column -> identifier type (consents name the type in a column)."""

_TS = pa.timestamp("us")
_MONEY = pa.decimal128(18, 2)

ARROW_TYPES: Final[dict[str, dict[str, pa.DataType]]] = {
    "events": {"occurred_at": _TS},
    "orders": {"total_amount": _MONEY, "ordered_at": _TS},
    "order_items": {"quantity": pa.int32(), "unit_price": _MONEY},
    "crm_contacts": {"created_at": _TS, "updated_at": _TS},
    "email_events": {"occurred_at": _TS},
    "consents": {"granted": pa.bool_(), "recorded_at": _TS},
}
"""Parquet column types that are not plain strings (timestamps are naive UTC, whole seconds)."""


def arrow_schema(table: str) -> pa.Schema:
    """The Parquet schema of one raw table; columns not listed in ARROW_TYPES are strings."""
    types = ARROW_TYPES.get(table, {})
    return pa.schema([(name, types.get(name, pa.string())) for name in TABLES[table]])
