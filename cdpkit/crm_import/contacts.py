"""One CRM contact as `raw.crm_contacts` holds it (ARCHITECTURE §3), and a page of them."""

from __future__ import annotations

import datetime as dt
from dataclasses import astuple, dataclass

COLUMNS = (
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
)
TIMESTAMPS = ("created_at", "updated_at")


@dataclass(frozen=True)
class ContactRow:
    """A contact as read from the CRM; timestamps are naive UTC."""

    crm_id: str
    email: str | None
    phone: str | None
    first_name: str | None
    last_name: str | None
    company: str | None
    job_title: str | None
    lifecycle_stage: str | None
    city: str | None
    country: str | None
    created_at: dt.datetime | None
    updated_at: dt.datetime | None

    def values(self) -> tuple[object, ...]:
        return astuple(self)


@dataclass(frozen=True)
class Page:
    """One API page: its contacts and the cursor of the next page (None at the end)."""

    rows: tuple[ContactRow, ...]
    cursor: str | None


def text(value: object) -> str | None:
    """A CRM value as text; empty strings become NULL."""
    if value is None:
        return None
    out = str(value).strip()
    return out or None
